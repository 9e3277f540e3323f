package fidelity

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/hostpush/hostpush/cmd/hostpush/config"
	"github.com/hostpush/hostpush/collectors/node"
	"github.com/hostpush/hostpush/internal/procs"
)

// nodeExporterPath is the module whose collectors hostpush embeds.
const nodeExporterPath = "github.com/prometheus/node_exporter"

// module is a Go module as `go mod download -json` describes it.
type module struct {
	Path, Version, Dir, GoSum, Error string
}

var (
	moduleOnce sync.Once
	moduleInfo module
	moduleErr  error
)

// nodeExporterModule finds node_exporter's module in the module cache (at
// the version go.mod requires), downloading it if needed.
func nodeExporterModule(t *testing.T) module {
	t.Helper()
	moduleOnce.Do(func() {
		root, err := procs.ModuleRoot()
		if err != nil {
			moduleErr = err
			return
		}
		cmd := exec.Command("go", "mod", "download", "-json", nodeExporterPath)
		cmd.Dir = root
		out, err := cmd.Output()
		if err != nil {
			moduleErr = fmt.Errorf("go mod download %s: %w (%s)", nodeExporterPath, err, stderrOf(err))
			return
		}
		if err := json.Unmarshal(out, &moduleInfo); err != nil {
			moduleErr = fmt.Errorf("reading go mod download output: %w", err)
			return
		}
		if moduleInfo.Error != "" || moduleInfo.Dir == "" {
			moduleErr = fmt.Errorf("go mod download %s: %s", nodeExporterPath, moduleInfo.Error)
		}
	})
	if moduleErr != nil {
		t.Fatal(moduleErr)
	}
	return moduleInfo
}

func stderrOf(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return strings.TrimSpace(string(ee.Stderr))
	}
	return ""
}

// hostpushBinary is bin/hostpush as `make build` leaves it.
func hostpushBinary(t *testing.T) string {
	t.Helper()
	p, err := procs.Binary("hostpush")
	if err != nil {
		t.Fatalf("%v", err)
	}
	return p
}

var buildMu sync.Mutex

// cachedBuild builds the main package pkg of node_exporter's module with
// this module's dependency versions (the ones hostpush is built with) and
// keeps the binary in the user cache directory, keyed by node_exporter's
// version, go.sum and the Go version, so warm runs skip the build.
func cachedBuild(t *testing.T, pkg, name string) string {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	mod := nodeExporterModule(t)
	root, err := procs.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := cacheDir(t)
	bin := filepath.Join(dir, name)
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	tmp, err := os.CreateTemp(dir, name+".*.tmp")
	if err != nil {
		t.Fatal(err)
	}
	tmp.Close()
	defer os.Remove(tmp.Name())
	t.Logf("building %s@%s into %s (cached for later runs)", pkg, mod.Version, bin)
	cmd := exec.Command("go", "build", "-o", tmp.Name(), pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, out)
	}
	if err := os.Rename(tmp.Name(), bin); err != nil {
		t.Fatal(err)
	}
	return bin
}

// cacheDir is where builds and the script's flag list are kept between
// runs: the user cache directory, keyed by node_exporter's version, this
// module's go.sum (the dependency versions both binaries build with) and
// the Go version.
func cacheDir(t *testing.T) string {
	t.Helper()
	mod := nodeExporterModule(t)
	root, err := procs.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(append(sum, runtime.Version()...))
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "hostpush-fidelity", fmt.Sprintf("node_exporter-%s-%s", mod.Version, hex.EncodeToString(h[:6])))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// writeAtomic writes data to path through a temp file and a rename, so a
// concurrent reader sees all or nothing.
func writeAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// hostpushDefaultFlags are the node_exporter flags hostpush derives from its
// built-in configuration: node_exporter's defaults plus hostpush's extras
// and any collector options the built-in configuration sets.
func hostpushDefaultFlags() []string {
	def := config.Default()
	return node.WithExtras(def.Collectors.Args())
}

// runHostpush runs bin/hostpush in dir with args and returns its stdout.
func runHostpush(t *testing.T, dir string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, hostpushBinary(t), args...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("hostpush %s: %v\nstderr:\n%s", strings.Join(args, " "), err, tail(stderr.String(), 40))
	}
	return stdout.Bytes()
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{fmt.Sprintf("... (%d lines before)", len(lines)-n)}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}

// parseFamilies parses the text exposition format.
func parseFamilies(t *testing.T, what string, data []byte) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("parsing %s: %v", what, err)
	}
	return fams
}

// signature describes a family by what dashboards and alerts depend on:
// its type and the label-name sets of its series (values left out), and
// its help text.
func signature(f *dto.MetricFamily) string {
	sets := map[string]bool{}
	for _, m := range f.GetMetric() {
		names := make([]string, 0, len(m.GetLabel()))
		for _, l := range m.GetLabel() {
			names = append(names, l.GetName())
		}
		sort.Strings(names)
		sets["{"+strings.Join(names, ",")+"}"] = true
	}
	keys := make([]string, 0, len(sets))
	for k := range sets {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return fmt.Sprintf("%s %s help=%q", f.GetType(), strings.Join(keys, " "), f.GetHelp())
}

// logBuffer collects a child process's output and prints it only when the
// test fails.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startProc starts a child process that is stopped when the test ends; its
// output is shown if the test failed.
func startProc(t *testing.T, name, bin string, args ...string) *procs.Proc {
	t.Helper()
	out := &logBuffer{}
	p, err := procs.Start(name, bin, args, out)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = p.Stop(5 * time.Second)
		if t.Failed() {
			t.Logf("%s output:\n%s", name, tail(out.String(), 30))
		}
	})
	return p
}

// scrapeNodeExporter runs node_exporter with flags on a free port and
// returns one scrape of /metrics.
func scrapeNodeExporter(t *testing.T, flags []string) map[string]*dto.MetricFamily {
	t.Helper()
	bin := cachedBuild(t, nodeExporterPath, "node_exporter")
	addr, err := procs.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	p := startProc(t, "node_exporter", bin, append(slicesClone(flags), "--web.listen-address="+addr)...)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	url := "http://" + addr + "/metrics"
	if err := procs.WaitHTTP(ctx, p, url); err != nil {
		t.Fatal(err)
	}
	body, err := httpGet(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	_ = p.Stop(5 * time.Second)
	return parseFamilies(t, "node_exporter's /metrics", body)
}

func slicesClone(s []string) []string { return append([]string(nil), s...) }

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
