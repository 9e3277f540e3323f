package cli

import (
	"fmt"
	"io"

	"github.com/alecthomas/kingpin/v2"
)

// Parse parses args into app's flags: usage (--help) and --version go to
// stdout, kingpin's own messages to stderr. done reports that --help or
// --version printed, after which the command exits 0 without doing
// anything else. A bad command line is a ConfigError that names the flag
// and points at --help.
func Parse(app *kingpin.Application, args []string, stdout, stderr io.Writer) (done bool, err error) {
	app.UsageWriter(stdout).ErrorWriter(stderr)
	app.Terminate(func(int) { done = true })
	if _, err := app.Parse(args); err != nil {
		return false, ConfigError{Err: fmt.Errorf("%v (see --help)", nameFlag(app, args, err))}
	}
	return done, nil
}

// nameFlag adds the flag's name to a value error: kingpin returns the bare
// error of the value's parser ("time: unknown unit ..."). Setting the values
// again in order finds the flag that refuses its value.
func nameFlag(app *kingpin.Application, args []string, err error) error {
	pc, perr := app.ParseContext(args)
	if perr != nil {
		return err
	}
	for _, el := range pc.Elements {
		f, ok := el.Clause.(*kingpin.FlagClause)
		if !ok || el.Value == nil {
			continue
		}
		if serr := f.Model().Value.Set(*el.Value); serr != nil {
			return fmt.Errorf("--%s: invalid value %q: %w", f.Model().Name, *el.Value, serr)
		}
	}
	return err
}
