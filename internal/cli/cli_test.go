package cli

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/alecthomas/kingpin/v2"
)

func TestExit(t *testing.T) {
	two := errors.Join(errors.New("a: bad"), errors.New("b: worse"))
	for _, tc := range []struct {
		name string
		err  error
		code int
		out  string
	}{
		{"success", nil, ExitOK, ""},
		{"config, one line per problem", fmt.Errorf("x: %w", ConfigError{two}), ExitConfig, "cmd: x: a: bad\ncmd: b: worse\n"},
		{"failure, one line", two, ExitFailure, "cmd: a: bad; b: worse\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if code := Exit("cmd", tc.err, &b); code != tc.code || b.String() != tc.out {
				t.Errorf("Exit = %d, %q; want %d, %q", code, b.String(), tc.code, tc.out)
			}
		})
	}
}

func TestParse(t *testing.T) {
	newApp := func() (*kingpin.Application, *time.Duration) {
		app := kingpin.New("cmd", "A command.")
		app.Version("cmd 1.0")
		d := app.Flag("wait", "How long.").Default("1s").Duration()
		return app, d
	}
	for _, tc := range []struct {
		name     string
		args     []string
		done     bool
		err, out string
	}{
		{"flags", []string{"--wait=2s"}, false, "", ""},
		{"help", []string{"--help"}, true, "", "usage: cmd"},
		{"version", []string{"--version"}, true, "", "cmd 1.0"},
		{"bad value named", []string{"--wait=abc"}, false, `--wait: invalid value "abc": time: invalid duration "abc" (see --help)`, ""},
		{"unknown flag", []string{"--nosuch"}, false, "unknown long flag '--nosuch' (see --help)", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			app, _ := newApp()
			var stdout, stderr bytes.Buffer
			done, err := Parse(app, tc.args, &stdout, &stderr)
			if done != tc.done || !strings.Contains(stdout.String(), tc.out) {
				t.Errorf("Parse(%v) done %v, stdout %q; want %v, %q", tc.args, done, stdout.String(), tc.done, tc.out)
			}
			var ce ConfigError
			if tc.err == "" && err != nil || tc.err != "" && (!errors.As(err, &ce) || err.Error() != tc.err) {
				t.Errorf("Parse(%v) = %v, want %q", tc.args, err, tc.err)
			}
		})
	}
}
