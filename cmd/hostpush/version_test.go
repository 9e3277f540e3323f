package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
)

// TestVersionAndBuildInfo: --version and hostpush_build_info come from
// prometheus/common/version (version, revision, branch, goversion, goos,
// goarch, tags) with node_exporter_version beside them, right in the three
// ways the binary is built: as the tests build it, with the Makefile's
// linker flags, and with a plain go build in a git checkout.
func TestVersionAndBuildInfo(t *testing.T) {
	root := repoRoot(t)
	neVersion := moduleVersion(t, root, "github.com/prometheus/node_exporter")

	t.Run("as built here", func(t *testing.T) {
		labels := checkVersion(t, hostpushBin, neVersion)
		if labels["version"] == "" {
			t.Error("empty version")
		}
	})

	t.Run("make build's linker flags", func(t *testing.T) {
		mk := exec.Command("make", "-s", "--no-print-directory", "ldflags", "VERSION=1.2.3-test")
		mk.Dir = root
		ldflags, err := mk.Output()
		if err != nil {
			t.Fatalf("make ldflags: %v", err)
		}
		bin := filepath.Join(t.TempDir(), "hostpush")
		goBuild(t, root, "-trimpath", "-ldflags", strings.TrimSpace(string(ldflags)), "-o", bin, "./cmd/hostpush")
		labels := checkVersion(t, bin, neVersion)
		head, branch := gitOut(t, root, "rev-parse", "HEAD"), gitOut(t, root, "rev-parse", "--abbrev-ref", "HEAD")
		if labels["version"] != "1.2.3-test" || labels["revision"] != head || labels["branch"] != branch {
			t.Errorf("labels %v, want version 1.2.3-test, revision %s, branch %s", labels, head, branch)
		}
	})

	// Go stamps the VCS only where .git is a directory, not in a git
	// worktree: build in a fresh repository of the working tree's files,
	// with VCS stamping on (this machine's go env turns it off).
	t.Run("plain go build in a checkout", func(t *testing.T) {
		src := snapshot(t, root)
		rev := gitOut(t, src, "rev-parse", "HEAD")
		bin := filepath.Join(t.TempDir(), "hostpush")
		goBuild(t, src, "-buildvcs=true", "-o", bin, "./cmd/hostpush")
		labels := checkVersion(t, bin, neVersion)
		// the go command's pseudo-version: v0.0.0-<time>-<12 hex of the commit>
		if labels["revision"] != rev || !strings.HasSuffix(labels["version"], "-"+rev[:12]) {
			t.Errorf("labels %v, want revision %s and a pseudo-version of it", labels, rev)
		}
	})
}

// snapshot commits the files of root's working tree (tracked and untracked,
// not ignored) to a new git repository and returns its directory.
func snapshot(t *testing.T, root string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "src")
	for _, name := range strings.Split(gitOut(t, root, "ls-files", "-co", "--exclude-standard"), "\n") {
		b, err := os.ReadFile(filepath.Join(root, name))
		if os.IsNotExist(err) {
			continue // deleted, not yet committed
		}
		if err == nil {
			err = os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755)
		}
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, name), b, 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	gitOut(t, dir, "init", "-q")
	gitOut(t, dir, "add", "-A")
	gitOut(t, dir, "-c", "user.name=test", "-c", "user.email=test@hostpush.invalid", "commit", "-q", "--no-gpg-sign", "-m", "snapshot")
	return dir
}

// checkVersion runs bin --version and --dry-run and returns the labels of
// hostpush_build_info after checking that both say the same and carry
// node_exporter's version.
func checkVersion(t *testing.T, bin, neVersion string) map[string]string {
	t.Helper()
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		t.Fatalf("--version: %v", err)
	}
	text := string(out)
	t.Logf("%s --version:\n%s", filepath.Base(filepath.Dir(bin)), text)
	dry, err := exec.Command(bin, "--dry-run", "--log.level=error", "--collector.disable-defaults", "--collector.loadavg").Output()
	if err != nil {
		t.Fatalf("--dry-run: %v", err)
	}
	fams, err := parseText(strings.NewReader(string(dry)))
	if err != nil {
		t.Fatal(err)
	}
	labels := buildInfoLabels(t, fams["hostpush_build_info"])
	for _, k := range []string{"version", "revision", "branch", "goversion", "goos", "goarch", "tags", "node_exporter_version"} {
		if _, ok := labels[k]; !ok {
			t.Errorf("hostpush_build_info has no %s label: %v", k, labels)
		}
	}
	first := regexp.MustCompile(`^hostpush, version (\S+) \(branch: (\S*), revision: (\S+)\)\n`).FindStringSubmatch(text)
	if first == nil || first[1] != labels["version"] || first[2] != labels["branch"] || first[3] != labels["revision"] {
		t.Errorf("--version %q does not agree with hostpush_build_info %v", text, labels)
	}
	if !strings.Contains(text, "\n  node_exporter:    "+neVersion) || labels["node_exporter_version"] != neVersion {
		t.Errorf("node_exporter version: --version %q, label %q; want %s", text, labels["node_exporter_version"], neVersion)
	}
	return labels
}

func buildInfoLabels(t *testing.T, f *dto.MetricFamily) map[string]string {
	t.Helper()
	if f == nil || len(f.GetMetric()) != 1 || f.GetMetric()[0].GetGauge().GetValue() != 1 {
		t.Fatalf("hostpush_build_info: %v", f)
	}
	labels := map[string]string{}
	for _, l := range f.GetMetric()[0].GetLabel() {
		labels[l.GetName()] = l.GetValue()
	}
	return labels
}

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// gitOut runs git in dir and returns its output.
func gitOut(t *testing.T, dir string, args ...string) string {
	t.Helper()
	c := exec.Command("git", args...)
	c.Dir = dir
	out, err := c.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// moduleVersion is the version go.mod gives module.
func moduleVersion(t *testing.T, dir, module string) string {
	t.Helper()
	l := exec.Command("go", "list", "-m", "-f", "{{.Version}}", module)
	l.Dir = dir
	out, err := l.Output()
	if err != nil {
		t.Fatalf("go list -m %s: %v", module, err)
	}
	return strings.TrimSpace(string(out))
}

// goBuild runs go build in dir with only the flags given (GOFLAGS empty).
func goBuild(t *testing.T, dir string, args ...string) {
	t.Helper()
	c := exec.Command("go", append([]string{"build"}, args...)...)
	c.Dir = dir
	c.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=")
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}
