package batch

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/hostpush/hostpush/"

// deps maps each package that pattern matches (relative to this
// directory) to the packages it links, from go list's package graph as
// `go list -deps` walks it. Test files are left out: an end-to-end test
// (collectors/fidelity) may drive the whole binary.
func deps(t *testing.T, pattern string) map[string][]string {
	t.Helper()
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}}:{{join .Deps \" \"}}", pattern).CombinedOutput()
	if err != nil {
		t.Fatalf("go list %s: %v\n%s", pattern, err, out)
	}
	m := map[string][]string{}
	for line := range strings.Lines(strings.TrimSpace(string(out))) {
		pkg, list, _ := strings.Cut(strings.TrimSpace(line), ":")
		m[pkg] = strings.Fields(list)
	}
	return m
}

// TestLayersPointDown keeps the arrows of the tree pointing down: the
// collectors (sources) do not link the push loop and its senders (agent)
// or a binary (cmd), and this package, which both sides exchange, links
// nothing of hostpush.
func TestLayersPointDown(t *testing.T) {
	collectors := deps(t, "../../collectors/...")
	if len(collectors[module+"collectors/node"]) == 0 {
		t.Fatalf("go list output does not list collectors/node: %v", collectors)
	}
	for pkg, list := range collectors {
		for _, d := range list {
			if d == module+"agent" || strings.HasPrefix(d, module+"agent/") || strings.HasPrefix(d, module+"cmd/") {
				t.Errorf("%s imports %s: collectors must not depend on the push loop or a binary", pkg, d)
			}
		}
	}
	for pkg, list := range deps(t, ".") {
		if !strings.Contains(strings.Join(list, " "), "github.com/prometheus/client_model/go") {
			t.Fatalf("go list output does not look like %s's dependencies: %v", pkg, list)
		}
		for _, d := range list {
			if strings.HasPrefix(d, module) {
				t.Errorf("%s imports %s: it must stay a leaf that imports nothing of hostpush", pkg, d)
			}
		}
	}
}
