package fidelity

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hostpush/hostpush/collectors/node"
)

// hostpushOnlyExtras turns off hostpush's extra default collectors
// (node.Extras) that end-to-end-test.sh does not enable, so that hostpush
// runs exactly the script's collector set. With node_exporter v1.12.1 the
// script enables processes and interrupts itself, so this is
// --no-collector.systemd --no-collector.tcpstat.
func hostpushOnlyExtras(scriptFlags []string) []string {
	var out []string
	for _, x := range node.Extras {
		if !slices.Contains(scriptFlags, "--collector."+x) {
			out = append(out, "--no-collector."+x)
		}
	}
	return out
}

// explainedFamilies are node_* families of node_exporter that hostpush
// does not produce, each with the reason.
var explainedFamilies = map[string]string{
	"node_exporter_build_info": "registered by node_exporter's main, not its collector package; hostpush exposes hostpush_build_info{node_exporter_version} instead",
}

// TestNodeExporterEndToEnd runs node_exporter's end-to-end test against
// hostpush: node_exporter's fixtures, the flags its end-to-end-test.sh
// passes, and its expected output, compared family by family for node_*.
func TestNodeExporterEndToEnd(t *testing.T) {
	t.Parallel()
	mod := nodeExporterModule(t)
	work := e2eWorkdir(t, mod.Dir)
	script, err := os.ReadFile(filepath.Join(work, "end-to-end-test.sh"))
	if err != nil {
		t.Fatal(err)
	}
	skip := scriptSkipRe(t, string(script))
	flags := scriptFlags(t, work, script)
	extras := hostpushOnlyExtras(flags)
	t.Logf("node_exporter %s end-to-end-test.sh passes %d flags; hostpush also gets %s",
		mod.Version, len(flags), strings.Join(extras, " "))

	args := append(append([]string{"--dry-run"}, flags...), extras...)
	got := runHostpush(t, work, args...)
	want, err := os.ReadFile(filepath.Join(work, e2eFixture()))
	if err != nil {
		t.Fatal(err)
	}
	wantFams := nodeFamilies(string(want), skip)
	gotFams := nodeFamilies(string(got), skip)
	if d := diffFamilies(wantFams, gotFams, 300); d != "" {
		t.Errorf("hostpush --dry-run differs from node_exporter %s's %s (node_* families, after the script's filter; - expected, + hostpush):\n%s",
			mod.Version, e2eFixture(), d)
	}
	if len(wantFams) < 100 {
		t.Errorf("only %d node_* families in the expected output: the fixture or the filter changed shape", len(wantFams))
	}
	t.Logf("compared %d node_* families, %d lines", len(wantFams), countLines(wantFams))
}

// e2eFixture is the expected output end-to-end-test.sh picks for this
// architecture.
func e2eFixture() string {
	switch runtime.GOARCH {
	case "arm64", "ppc64le": // the script's aarch64|ppc64le: 64k pages
		return "collector/fixtures/e2e-64k-page-output.txt"
	}
	return "collector/fixtures/e2e-output.txt"
}

// e2eWorkdir copies what end-to-end-test.sh needs out of the read-only
// module cache into a temp dir and prepares the fixtures as node_exporter's
// Makefile does: unpack sys.ttar and udev.ttar, and recreate the
// proc/self symlink the module zip drops (zips hold no symlinks).
func e2eWorkdir(t *testing.T, modDir string) string {
	t.Helper()
	work := t.TempDir()
	if err := copyTree(filepath.Join(modDir, "collector"), filepath.Join(work, "collector")); err != nil {
		t.Fatal(err)
	}
	if err := copyFile(filepath.Join(modDir, "end-to-end-test.sh"), filepath.Join(work, "end-to-end-test.sh"), 0o755); err != nil {
		t.Fatal(err)
	}
	fixtures := filepath.Join(work, "collector", "fixtures")
	root, err := os.OpenRoot(fixtures)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	for _, name := range []string{"sys.ttar", "udev.ttar"} {
		f, err := os.Open(filepath.Join(fixtures, name))
		if err != nil {
			t.Fatal(err)
		}
		err = extractTTAR(root, f)
		f.Close()
		if err != nil {
			t.Fatalf("unpacking %s: %v", name, err)
		}
	}
	if err := root.Symlink("10", "proc/self"); err != nil && !errors.Is(err, fs.ErrExist) {
		t.Fatal(err)
	}
	// The script asks node_exporter's tools binary which collector files
	// build on this platform.
	tools := cachedBuild(t, nodeExporterPath+"/tools", "tools")
	if err := os.MkdirAll(filepath.Join(work, "tools"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := copyFile(tools, filepath.Join(work, "tools", "tools"), 0o755); err != nil {
		t.Fatal(err)
	}
	return work
}

// recorder stands in for ./node_exporter: it writes its arguments, one a
// line, to the file $HOSTPUSH_E2E_ARGS and exits.
const recorder = `#!/bin/sh
printf '%s\n' "$@" > "$HOSTPUSH_E2E_ARGS.tmp" && mv "$HOSTPUSH_E2E_ARGS.tmp" "$HOSTPUSH_E2E_ARGS"
`

// scriptFlags runs end-to-end-test.sh in work with a recorder as
// ./node_exporter and returns the collector and path flags the script
// computed for this platform. The script itself then fails (nothing
// answers its scrape); only the recorded arguments matter. The script
// forks a few hundred processes (up to a minute on a busy machine), so the
// recorded list is cached next to the node_exporter build, keyed by the
// script's and the collector sources' content and the platform.
func scriptFlags(t *testing.T, work string, script []byte) []string {
	t.Helper()
	cacheFile := filepath.Join(cacheDir(t), "e2e-flags-"+scriptKey(t, work, script)+".txt")
	data, err := os.ReadFile(cacheFile)
	if err != nil {
		data = recordScriptFlags(t, work)
		if err := writeAtomic(cacheFile, data); err != nil {
			t.Logf("not caching the script's flags: %v", err)
		}
	}
	var flags []string
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	for i := 0; i < len(lines); i++ {
		a := lines[i]
		switch {
		case a == "--web.listen-address": // the server flags are node_exporter's, not the collectors'
			i++
		case strings.HasPrefix(a, "--web.listen-address="), strings.HasPrefix(a, "--log.level"):
		default:
			flags = append(flags, a)
		}
	}
	if !slices.ContainsFunc(flags, func(s string) bool { return strings.HasPrefix(s, "--path.procfs=") }) ||
		len(flags) < 20 {
		t.Fatalf("end-to-end-test.sh passed an unexpected argument list (did the script change shape?):\n%s", data)
	}
	return flags
}

func recordScriptFlags(t *testing.T, work string) []byte {
	t.Helper()
	if err := os.WriteFile(filepath.Join(work, "node_exporter"), []byte(recorder), 0o755); err != nil {
		t.Fatal(err)
	}
	argsFile := filepath.Join(work, "node_exporter.args")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "./end-to-end-test.sh")
	cmd.Dir = work
	cmd.Env = append(os.Environ(), "HOSTPUSH_E2E_ARGS="+argsFile)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	_ = cmd.Run() // fails by design once the recorder has exited
	data, err := os.ReadFile(argsFile)
	if err != nil {
		t.Fatalf("end-to-end-test.sh did not run ./node_exporter (%v); its output:\n%s", err, tail(out.String(), 40))
	}
	return data
}

// scriptKey identifies what the script's flag list depends on: the script,
// the collector sources it greps, and the platform (uname -m, GOOS).
func scriptKey(t *testing.T, work string, script []byte) string {
	t.Helper()
	h := sha256.New()
	h.Write(script)
	srcs, err := filepath.Glob(filepath.Join(work, "collector", "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range srcs {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(h, "%s %d\n", filepath.Base(p), len(b))
		h.Write(b)
	}
	arch, _ := exec.Command("uname", "-m").Output()
	fmt.Fprintf(h, "%s %s", runtime.GOOS, arch)
	return hex.EncodeToString(h.Sum(nil)[:8])
}

var skipReRe = regexp.MustCompile(`(?m)^skip_re="([^"]+)"`)

// scriptSkipRe is the filter end-to-end-test.sh applies to the scraped
// lines before its diff, read from the script.
func scriptSkipRe(t *testing.T, script string) *regexp.Regexp {
	t.Helper()
	m := skipReRe.FindStringSubmatch(script)
	if m == nil {
		t.Fatal(`end-to-end-test.sh has no skip_re="..." line any more; update scriptSkipRe`)
	}
	re, err := regexp.Compile(m[1])
	if err != nil {
		t.Fatalf("end-to-end-test.sh's skip_re %q: %v", m[1], err)
	}
	return re
}

// nodeFamilies drops the lines skip matches (as the script's grep -v does)
// and splits the rest into node_* families: name to lines, HELP and TYPE
// included, in order.
func nodeFamilies(text string, skip *regexp.Regexp) map[string][]string {
	fams := map[string][]string{}
	cur := ""
	for _, line := range strings.Split(text, "\n") {
		if line == "" || skip.MatchString(line) {
			continue
		}
		if rest, ok := strings.CutPrefix(line, "# HELP "); ok {
			cur, _, _ = strings.Cut(rest, " ")
		} else if rest, ok := strings.CutPrefix(line, "# TYPE "); ok {
			cur, _, _ = strings.Cut(rest, " ")
		}
		if !strings.HasPrefix(cur, "node_") {
			continue
		}
		if _, ok := explainedFamilies[cur]; ok {
			continue
		}
		fams[cur] = append(fams[cur], line)
	}
	return fams
}

// diffFamilies lists, per family, what is missing (-) and extra (+), up to
// max lines. It returns "" when both are equal.
func diffFamilies(want, got map[string][]string, max int) string {
	names := map[string]bool{}
	for n := range want {
		names[n] = true
	}
	for n := range got {
		names[n] = true
	}
	sorted := make([]string, 0, len(names))
	for n := range names {
		sorted = append(sorted, n)
	}
	sort.Strings(sorted)
	var b strings.Builder
	lines := 0
	emit := func(format string, args ...any) {
		if lines < max {
			fmt.Fprintf(&b, format+"\n", args...)
		}
		lines++
	}
	for _, n := range sorted {
		w, g := want[n], got[n]
		switch {
		case slices.Equal(w, g):
			continue
		case g == nil:
			emit("family %s: missing from hostpush (%d lines)", n, len(w))
		case w == nil:
			emit("family %s: only in hostpush (%d lines)", n, len(g))
		default:
			emit("family %s:", n)
		}
		onlyW, onlyG := multisetDiff(w, g)
		if len(onlyW) == 0 && len(onlyG) == 0 {
			emit("  same lines, different order")
		}
		for _, l := range onlyW {
			emit("  - %s", l)
		}
		for _, l := range onlyG {
			emit("  + %s", l)
		}
	}
	if lines > max {
		fmt.Fprintf(&b, "... and %d more lines\n", lines-max)
	}
	return b.String()
}

// multisetDiff returns the lines of a not in b and of b not in a, in order.
func multisetDiff(a, b []string) (onlyA, onlyB []string) {
	count := map[string]int{}
	for _, l := range b {
		count[l]++
	}
	for _, l := range a {
		if count[l] > 0 {
			count[l]--
		} else {
			onlyA = append(onlyA, l)
		}
	}
	count = map[string]int{}
	for _, l := range a {
		count[l]++
	}
	for _, l := range b {
		if count[l] > 0 {
			count[l]--
		} else {
			onlyB = append(onlyB, l)
		}
	}
	return onlyA, onlyB
}

func countLines(fams map[string][]string) int {
	n := 0
	for _, l := range fams {
		n += len(l)
	}
	return n
}

// copyTree copies regular files and directories from src to dst, owner
// writable (the module cache is read-only).
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		to := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(to, 0o755)
		case d.Type().IsRegular():
			return copyFile(p, to, 0o644)
		}
		return nil // the module zip holds no links or devices
	})
}

func copyFile(src, dst string, mode fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
