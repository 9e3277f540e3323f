package buildinfo

import (
	"runtime"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/version"
)

// TestFill: a version the linker flags set is kept; without one, the main
// module's stamped version (a test binary's is "(devel)" or empty) stands in.
func TestFill(t *testing.T) {
	saved := version.Version
	defer func() { version.Version = saved }()
	version.Version = "1.2.3"
	Fill()
	if version.Version != "1.2.3" {
		t.Errorf("Fill replaced the -X version: %q", version.Version)
	}
	version.Version = ""
	Fill()
	if version.Version == "" {
		t.Error("Fill left the version empty")
	}
	if p := Print("prog"); !strings.HasPrefix(p, "prog, version "+version.Version+" (branch: ") || !strings.Contains(p, runtime.Version()) {
		t.Errorf("Print: %q", p)
	}
}

// ModuleVersion needs a binary's build information (a test binary's has no
// dependencies): cmd/hostpush's TestVersionAndBuildInfo checks it.

// TestCollector: build_info is 1 with the standard labels of
// prometheus/common/version and the extra ones.
func TestCollector(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(Collector("prog", prometheus.Labels{"extra": "x"}))
	fams, err := reg.Gather()
	if err != nil || len(fams) != 1 || fams[0].GetName() != "prog_build_info" || len(fams[0].GetMetric()) != 1 {
		t.Fatalf("gathered %v, %v", fams, err)
	}
	m := fams[0].GetMetric()[0]
	got := map[string]string{}
	for _, l := range m.GetLabel() {
		got[l.GetName()] = l.GetValue()
	}
	want := map[string]string{"version": version.Version, "revision": version.GetRevision(), "branch": version.Branch,
		"goversion": runtime.Version(), "goos": runtime.GOOS, "goarch": runtime.GOARCH, "tags": version.GetTags(), "extra": "x"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("label %s = %q, want %q", k, got[k], v)
		}
	}
	if len(got) != len(want) || m.GetGauge().GetValue() != 1 {
		t.Errorf("labels %v, value %v", got, m.GetGauge().GetValue())
	}
}
