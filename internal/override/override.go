// Package override lets command-line flags win over a configuration file:
// a flag the user gave sets its value in the configuration after the file
// is read; a flag not given leaves the file's value (or the default).
// Both binaries read their flags this way.
package override

import (
	"errors"
	"fmt"

	"github.com/alecthomas/kingpin/v2"
)

// Set is the flags that may override a configuration of type C.
type Set[C any] struct {
	apply []func(*C) error
}

// Var defines flag as an override. bind is the clause's typed binder, such
// as (*kingpin.FlagClause).StringVar; when the user gives the flag, Apply
// calls set with its value. An error from set is named after the flag.
func Var[C, T any](s *Set[C], flag *kingpin.FlagClause, bind func(*kingpin.FlagClause, *T), set func(c *C, v T) error) {
	v, given := new(T), new(bool)
	bind(flag.IsSetByUser(given), v)
	name := flag.Model().Name
	s.apply = append(s.apply, func(c *C) error {
		if !*given {
			return nil
		}
		if err := set(c, *v); err != nil {
			return fmt.Errorf("--%s: %w", name, err)
		}
		return nil
	})
}

// Field is Var for a flag that sets one field of the configuration.
func Field[C, T any](s *Set[C], flag *kingpin.FlagClause, bind func(*kingpin.FlagClause, *T), field func(*C) *T) {
	Var(s, flag, bind, func(c *C, v T) error { *field(c) = v; return nil })
}

// Apply sets the value of every flag the user gave in c, in the order the
// flags were defined, and joins the errors. Call it after parsing.
func (s *Set[C]) Apply(c *C) error {
	var errs []error
	for _, a := range s.apply {
		errs = append(errs, a(c))
	}
	return errors.Join(errs...)
}
