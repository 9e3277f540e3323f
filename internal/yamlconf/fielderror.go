package yamlconf

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// FieldError is one problem with one setting. Every configuration section
// reports its problems as FieldErrors, Decode fills in where in the file
// each one is, and Error renders them all the same way:
// "file:line: key: message", leaving out the parts that are unknown.
type FieldError struct {
	// File is the configuration file; empty when the setting did not come
	// from a file.
	File string
	// Line is the line of the key in File; 0 when unknown.
	Line int
	// Key is the setting's path as the file spells it: push.url,
	// scrape[0].timeout, collectors.flags.filesystem.mount-points-exclude.
	// It is empty for a problem with the file's shape rather than with one
	// setting's value, such as an unknown key, which Msg names.
	Key string
	// Msg says what is wrong and what is allowed.
	Msg string
}

func (e *FieldError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			b.WriteString(":" + strconv.Itoa(e.Line))
		}
		b.WriteString(": ")
	}
	if e.Key != "" {
		b.WriteString(e.Key + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errorf returns a FieldError for key with a formatted message.
func Errorf(key, format string, args ...any) *FieldError {
	return &FieldError{Key: key, Msg: fmt.Sprintf(format, args...)}
}

// Under puts every problem in err (one error, or several joined) under
// prefix, for a section validated on its own and then placed in a list:
// Under("scrape[0].", err) turns key url into scrape[0].url. An error that
// is not a FieldError becomes one keyed by the prefix itself.
func Under(prefix string, err error) error {
	var errs []error
	for _, e := range flatten(err) {
		var fe *FieldError
		if errors.As(e, &fe) {
			c := *fe
			c.Key = prefix + c.Key
			errs = append(errs, &c)
			continue
		}
		errs = append(errs, &FieldError{Key: strings.TrimSuffix(prefix, "."), Msg: e.Error()})
	}
	return errors.Join(errs...)
}

// flatten returns the single errors inside err, which errors.Join may have
// nested; nil for nil.
func flatten(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flatten(e)...)
		}
		return out
	}
	if err == nil {
		return nil
	}
	return []error{err}
}
