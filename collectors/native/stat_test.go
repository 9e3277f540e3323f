package native

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/procfs"
)

// tail is the 41 fields after the state of a real stat line (a sleeping
// thread of this machine's init), num_threads (the 17th) set to 7.
const tail = "0 1 1 0 -1 4194560 1234 5678 12 34 56 78 90 12 20 0 7 0 1234 172322816 3221 18446744073709551615 1 1 0 0 0 0 671173123 4096 1260 0 0 0 17 1 0 0 0 0 0 94006345412608 94006345500000 94006360000000 140724449000000 140724449000001 140724449000001 140724449001000 0\n"

func TestParseStat(t *testing.T) {
	for _, tc := range []struct {
		name, in   string
		state      string
		numThreads int
		err        string // in the error; "" means none
	}{
		{"plain", "1 (systemd) S " + tail, "S", 7, ""},
		{"parenthesis in the command", "42 (a) b) R " + tail, "R", 7, ""},
		{"command faking fields", "42 (x) S 1 2 3) D " + tail, "D", 7, ""},
		{"spaces and newline in the command", "42 (tmux: server\n x) Z " + tail, "Z", 7, ""},
		{"empty command", "42 () I " + tail, "I", 7, ""},
		{"idle kernel thread", "2 (kthreadd) I " + tail, "I", 7, ""},
		{"tracing stop", "9 (gdb) t " + tail, "t", 7, ""},
		{"exactly 42 fields", "1 (x) S " + strings.Join(strings.Fields(tail)[:41], " "), "S", 7, ""},
		{"signed fields take a sign", "1 (x) S +0 " + strings.Join(strings.Fields(tail)[1:], " "), "S", 7, ""},
		{"no parenthesis", "1 systemd S " + tail, "", 0, "no command name"},
		{"only an opening parenthesis", "1 (systemd S " + tail, "", 0, "no command name"},
		{"closing before opening", "1 )x( S " + tail, "", 0, "no command name"},
		{"ends at the parenthesis", "1 (x)", "", 0, "no command name"},
		{"nothing after the parenthesis", "1 (x) ", "", 0, "no state"},
		{"truncated", "1 (x) S 0 1 1 0 -1", "", 0, "6 fields after the command name, want at least 42"},
		{"letters in a number", "1 (x) S 0 1 1 0 -1 abc " + tail, "", 0, `field 9 "abc" is not a number`},
		{"sign on an unsigned field", "1 (x) S 0 1 1 0 -1 -5 " + tail, "", 0, `field 9 "-5"`},
		{"leading zero", "1 (x) S 0 1 1 0 -1 017 " + tail, "", 0, `field 9 "017"`},
		{"hexadecimal", "1 (x) S 0 1 1 0 -1 0x1f " + tail, "", 0, `field 9 "0x1f"`},
		{"overflow", "1 (x) S 0 1 1 0 -1 18446744073709551616 " + tail, "", 0, `field 9`},
		{"int overflow", "1 (x) S 9223372036854775808 " + tail, "", 0, `field 4`},
		{"non-ASCII in the fields", "1 (x) S 0\xa01 " + tail, "", 0, "fields after the command name"},
		{"empty", "", "", 0, "no command name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseStat([]byte(tc.in))
			if tc.err != "" {
				if err == nil || !errors.Is(err, errMalformed) || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("parseStat = %+v, %v; want an errMalformed with %q", got, err, tc.err)
				}
				return
			}
			if err != nil || string(got.state) != tc.state || got.numThreads != tc.numThreads {
				t.Fatalf("parseStat = state %q threads %d, %v; want %q, %d", got.state, got.numThreads, err, tc.state, tc.numThreads)
			}
			q, err := parseStatQuick([]byte(tc.in), true)
			if err != nil || string(q.state) != tc.state || q.numThreads != tc.numThreads {
				t.Fatalf("parseStatQuick = state %q threads %d, %v; want %q, %d", q.state, q.numThreads, err, tc.state, tc.numThreads)
			}
		})
	}
}

// plainStat matches the lines the kernel writes after the command name:
// one space after ')', decimal fields without leading zeros.
var plainStat = regexp.MustCompile(`^\S+( |\n)((-?(0|[1-9][0-9]*))( |\n))*(-?(0|[1-9][0-9]*))\n?$`)

// FuzzParseStat holds parseStat to procfs's Proc.Stat, which
// node_exporter uses: whatever parseStat accepts, procfs reads alike (same
// state and num_threads); whatever procfs accepts in the kernel's plain
// form, parseStat accepts too. parseStat never panics (procfs does, on
// some malformed lines).
func FuzzParseStat(f *testing.F) {
	for _, s := range []string{"1 (systemd) S " + tail, "42 (a) b) R " + tail, "1 (x) S 0 1 1 0 -1", "1 (x)", "(", ")", "1 (x) S 0 1 1 0 -1 017 " + tail} {
		f.Add([]byte(s))
	}
	dir := f.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "1"), 0o755); err != nil {
		f.Fatal(err)
	}
	fs, err := procfs.NewFS(dir)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := parseStat(b)
		if err == nil {
			for _, withThreads := range []bool{true, false} {
				q, qerr := parseStatQuick(b, withThreads)
				if qerr != nil || string(q.state) != string(got.state) || withThreads && q.numThreads != got.numThreads {
					t.Fatalf("%q: parseStatQuick(%v) = %q %d %v, parseStat %q %d", b, withThreads, q.state, q.numThreads, qerr, got.state, got.numThreads)
				}
			}
		}
		want, werr, panicked := procfsStat(t, fs, dir, b)
		switch {
		case err == nil && (panicked || werr != nil):
			t.Fatalf("parseStat accepts %q (state %q), procfs does not: %v (panic %v)", b, got.state, werr, panicked)
		case err == nil && (string(got.state) != want.State || got.numThreads != want.NumThreads):
			t.Fatalf("%q: parseStat state %q threads %d, procfs %q %d", b, got.state, got.numThreads, want.State, want.NumThreads)
		case err != nil && werr == nil && !panicked && isPlain(b):
			t.Fatalf("procfs accepts the plain line %q, parseStat: %v", b, err)
		}
	})
}

func isPlain(b []byte) bool {
	r := strings.LastIndexByte(string(b), ')')
	return r >= 0 && r+1 < len(b) && b[r+1] == ' ' && plainStat.Match(b[r+2:])
}

func procfsStat(t *testing.T, fs procfs.FS, dir string, b []byte) (st procfs.ProcStat, err error, panicked bool) {
	if err := os.WriteFile(filepath.Join(dir, "1", "stat"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := fs.Proc(1)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if recover() != nil {
			panicked = true
		}
	}()
	st, err = p.Stat()
	return st, err, false
}
