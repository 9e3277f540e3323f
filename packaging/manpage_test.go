package packaging

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/alecthomas/kingpin/v2"
	_ "github.com/prometheus/node_exporter/collector" // registers its flags on kingpin.CommandLine
)

// TestManPagesListEveryFlag: each package's man page documents every flag
// its binary's --help shows. hostpush's --help also shows node_exporter's
// collector and path flags (about 177): its man page lists hostpush's own
// and says that node_exporter's apply, rather than repeating each.
func TestManPagesListEveryFlag(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	nodeExporter := map[string]bool{}
	for _, f := range kingpin.CommandLine.Model().Flags {
		nodeExporter[f.Name] = true
	}
	for _, f := range kingpin.New("any", "").Model().Flags {
		delete(nodeExporter, f.Name) // --help, which every kingpin application has
	}
	for _, b := range binaries {
		t.Run(b.pkg, func(t *testing.T) {
			help := helpFlags(t, buildBinary(t, root, b.cmd, b.cgo))
			page, err := os.ReadFile(filepath.Join(b.pkg, b.pkg+".1"))
			if err != nil {
				t.Fatal(err)
			}
			documented := manFlags(string(page))
			var own, missing []string
			for _, f := range help {
				if nodeExporter[f] {
					continue
				}
				own = append(own, f)
				if !documented[f] && !documented["no-"+f] {
					missing = append(missing, "--"+f)
				}
			}
			if len(missing) > 0 {
				t.Errorf("%s.1 lacks %d of the %d flags of its --help: %s", b.pkg, len(missing), len(own), strings.Join(missing, ", "))
			}
			if len(own) == len(help) {
				return
			}
			// hostpush: node_exporter's flags are there, so the page must say they apply
			if text := roffText(string(page)); !strings.Contains(text, "Every node_exporter collector and path flag is accepted") {
				t.Errorf("%s.1 does not say that node_exporter's %d collector and path flags apply", b.pkg, len(help)-len(own))
			}
		})
	}
}

// buildBinary builds cmd as the Makefile does, into the test's directory.
func buildBinary(t *testing.T, root, cmd string, cgo bool) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), filepath.Base(cmd))
	c := exec.Command("go", "build", "-o", bin, cmd)
	c.Dir = root
	c.Env = append(os.Environ(), "CGO_ENABLED="+map[bool]string{true: "1", false: "0"}[cgo])
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", cmd, err, out)
	}
	return bin
}

// flagLineRe matches a flag at the start of a line of kingpin's help:
// "  -h, --[no-]help", "      --web.listen-address=..."; continuation lines
// are indented further.
var flagLineRe = regexp.MustCompile(`^(?:  -\w, |      )--(?:\[no-\])?([a-z0-9][A-Za-z0-9._-]*)`)

// helpFlags returns the names of the flags bin --help lists.
func helpFlags(t *testing.T, bin string) []string {
	t.Helper()
	out, err := exec.Command(bin, "--help").Output()
	if err != nil {
		t.Fatalf("%s --help: %v", bin, err)
	}
	var flags []string
	for _, line := range strings.Split(string(out), "\n") {
		if m := flagLineRe.FindStringSubmatch(line); m != nil {
			flags = append(flags, m[1])
		}
	}
	if len(flags) < 5 || !slices.Contains(flags, "version") {
		t.Fatalf("%s --help lists only %q; is its format still kingpin's?\n%s", bin, flags, out)
	}
	return flags
}

var manFlagRe = regexp.MustCompile(`--([a-z0-9][A-Za-z0-9._-]*[A-Za-z0-9])`)

// manFlags returns the flags a man page names anywhere.
func manFlags(page string) map[string]bool {
	found := map[string]bool{}
	for _, m := range manFlagRe.FindAllStringSubmatch(roffText(page), -1) {
		found[m[1]] = true
	}
	return found
}

// roffText undoes the roff escapes the man pages use for dashes and fonts.
func roffText(page string) string {
	return strings.NewReplacer(`\-`, "-", `\fB`, "", `\fI`, "", `\fR`, "", `\fP`, "").Replace(page)
}
