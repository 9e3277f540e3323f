package main

import (
	"io"
	"strings"
	"testing"

	"github.com/hostpush/hostpush/internal/cli"
)

// TestFlags: a bad command line exits 2 naming the flag, and --help
// prints the usage and measures nothing.
func TestFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--cycles=1"}, "--cycles=1: want 5 to 1000"},
		{[]string{"--period=soon"}, `--period: invalid value "soon"`},
		{[]string{"--no-such-flag"}, "unknown long flag"},
	} {
		var stderr strings.Builder
		code := cli.Exit("agentbench", run(t.Context(), tc.args, io.Discard, io.Discard), &stderr)
		if code != cli.ExitConfig || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("run(%v): exit %d, %q; want %d and %q", tc.args, code, stderr.String(), cli.ExitConfig, tc.want)
		}
	}
	var out strings.Builder
	if err := run(t.Context(), []string{"--help"}, &out, io.Discard); err != nil || !strings.Contains(out.String(), "--size") {
		t.Errorf("run(--help) = %v with usage %q; want nil and the usage", err, out.String())
	}
}
