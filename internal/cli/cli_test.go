package cli

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
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
