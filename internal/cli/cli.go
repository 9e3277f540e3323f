// Package cli is what the run functions of the two binaries and of the
// dev tools share: the command-line parse, the exit codes and the one
// place an error reaches stderr, a configuration problem (a
// *yamlconf.FieldError, rendered by its Error) on a line of its own.
package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"
)

// Exit codes: a unit's RestartPreventExitStatus=2 stops restart loops on
// configuration errors.
const (
	ExitOK      = 0
	ExitFailure = 1
	ExitConfig  = 2
)

// ConfigError is a problem in flags or configuration: exit code 2.
type ConfigError struct{ Err error }

func (e ConfigError) Error() string { return e.Err.Error() }
func (e ConfigError) Unwrap() error { return e.Err }

// Exit writes err, if any, to stderr as the command name says and returns
// the exit code: a ConfigError one line per problem, anything else on one
// line.
func Exit(name string, err error, stderr io.Writer) int {
	var ce ConfigError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &ce):
		for _, line := range strings.Split(err.Error(), "\n") {
			fmt.Fprintf(stderr, "%s: %s\n", name, line)
		}
		return ExitConfig
	default:
		fmt.Fprintf(stderr, "%s: %s\n", name, OneLine(err))
		return ExitFailure
	}
}

// OneLine is err's message with its lines joined by "; ", for a log
// attribute or a runtime failure.
func OneLine(err error) string {
	return strings.ReplaceAll(err.Error(), "\n", "; ")
}
