package main

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/model"

	"github.com/hostpush/hostpush/internal/procs"
)

// TestSIGHUPRemoteWriteStaleMarkers reloads remote_write outputs into a
// real receiver and asks, with an instant query at the moment the reload
// completed, which series it ended. An output replaced by one that writes
// the same series (same url, external_labels, le_quantile_format) must not
// end them: the receiver would show a gap until the next push. One whose
// external labels change, or that is removed, must still end its series
// at once. The query is evaluated at the "configuration reloaded" log
// line's time: the replaced Writer's Close (with its stale markers) is
// done by then and the next gather starts after it, so the answer does
// not depend on when the next tick comes.
func TestSIGHUPRemoteWriteStaleMarkers(t *testing.T) {
	for _, kind := range []string{"prometheus", "victoria-metrics"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			testReloadStaleMarkers(t, startReceiver(t, kind))
		})
	}
}

func testReloadStaleMarkers(t *testing.T, rcv string) {
	host := hostname(t)
	cfg := filepath.Join(t.TempDir(), "hostpush.yml")
	write := func(outputs ...string) {
		body := "push: {disabled: true, interval: 500ms}\nscrape: []\nremote_write:\n"
		for _, o := range outputs {
			body += fmt.Sprintf("  - {url: %q, %s}\n", "http://"+rcv+"/api/v1/write", o)
		}
		if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sel := func(region string) string {
		return fmt.Sprintf(`node_uname_info{job="host-stats",instance=%q,region=%q}`, host, region)
	}
	write("external_labels: {region: a}, timeout: 5s")
	cmd, stderr := startAgent(t, "--config.file="+cfg, "--log.level=info")
	waitFor(t, "the first samples", 30*time.Second, func() bool { return len(query(t, rcv, sel("a"))) == 1 })

	reloads := 0
	reload := func(outputs ...string) time.Time {
		t.Helper()
		write(outputs...)
		reloads++
		if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		var at time.Time
		waitFor(t, fmt.Sprintf("reload %d", reloads), 10*time.Second, func() bool {
			at = reloadedAt(t, stderr.String(), reloads)
			return !at.IsZero()
		})
		return at
	}
	// present reports whether the series of region are there at t, for
	// as long as the receiver may take to make what it got searchable
	// (VictoriaMetrics: up to a second).
	present := func(region string, at time.Time) bool {
		deadline := time.Now().Add(2 * time.Second)
		for time.Now().Before(deadline) {
			if len(queryAt(t, rcv, sel(region), at)) == 0 {
				return false
			}
			time.Sleep(200 * time.Millisecond)
		}
		return true
	}
	// pushedAfter waits until the output that took over sent a gather,
	// so that the next reload has a last batch to end.
	pushedAfter := func(region string, at time.Time) {
		t.Helper()
		waitFor(t, "a sample after the reload", 10*time.Second, func() bool {
			v := query(t, rcv, "timestamp("+sel(region)+")")
			return len(v) == 1 && float64(v[0].Value) > float64(at.UnixMilli())/1000
		})
	}

	at := reload("external_labels: {region: a}, timeout: 6s")
	if !present("a", at) {
		t.Fatalf("after a reload that keeps the output's url and labels, %s is gone at %s: stale markers ended series that go on\n%s", sel("a"), at, grepLines(stderr.String(), "stale markers"))
	}
	pushedAfter("a", at)

	at = reload("external_labels: {region: b}", "name: second, external_labels: {region: c}")
	if present("a", at) {
		t.Fatalf("after a reload that changes external_labels, %s is still there at %s: want its series ended", sel("a"), at)
	}
	pushedAfter("b", at)

	at = reload("name: second, external_labels: {region: c}")
	if present("b", at) {
		t.Fatalf("after a reload that removes an output, %s is still there at %s: want its series ended", sel("b"), at)
	}
	if !present("c", at) {
		t.Fatalf("the output kept by the reload lost %s", sel("c"))
	}
	if s := stderr.String(); strings.Contains(s, "not reloaded") {
		t.Fatalf("a reload was refused:\n%s", s)
	}
}

// startReceiver starts a remote_write receiver of kind (Debian's
// prometheus or victoria-metrics) and returns its address.
func startReceiver(t *testing.T, kind string) string {
	t.Helper()
	addr, dir := freeAddr(t), t.TempDir()
	var args []string
	ready := "/-/ready"
	switch kind {
	case "prometheus":
		cfg := filepath.Join(dir, "prometheus.yml")
		if err := os.WriteFile(cfg, []byte("scrape_configs: []\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		args = []string{"--config.file=" + cfg, "--storage.tsdb.path=" + dir, "--web.listen-address=" + addr,
			"--web.enable-remote-write-receiver", "--web.console.templates=" + dir, "--web.console.libraries=" + dir, "--log.level=warn"}
	case "victoria-metrics":
		args = []string{"-storageDataPath=" + dir, "-httpListenAddr=" + addr, "-search.latencyOffset=0s", "-loggerLevel=ERROR"}
		ready = "/health"
	}
	bin, err := procs.LookPath(kind, kind)
	if err != nil {
		t.Fatal(err)
	}
	p, err := procs.Start(kind, bin, args, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Stop(10 * time.Second) })
	ctx, cancel := context.WithTimeout(t.Context(), procs.StartTimeout)
	defer cancel()
	if err := procs.WaitHTTP(ctx, p, "http://"+addr+ready); err != nil {
		t.Fatal(err)
	}
	return addr
}

var reloadedLine = regexp.MustCompile(`(?m)^time=(\S+) .*msg="configuration reloaded"`)

// reloadedAt is the time of the nth "configuration reloaded" log line, or
// zero while there are fewer.
func reloadedAt(t *testing.T, log string, n int) time.Time {
	m := reloadedLine.FindAllStringSubmatch(log, -1)
	if len(m) < n {
		return time.Time{}
	}
	at, err := time.Parse(time.RFC3339Nano, m[n-1][1])
	if err != nil {
		t.Fatalf("log time %q: %v", m[n-1][1], err)
	}
	return at
}

// queryAt runs an instant query evaluated at at.
func queryAt(t *testing.T, addr, q string, at time.Time) model.Vector {
	return queryWith(t, addr, url.Values{"query": {q}, "time": {fmt.Sprintf("%.3f", float64(at.UnixMilli())/1000)}})
}

// TestSIGHUPRemoteWriteStorageUnusable reloads two changed remote_write
// outputs, each with its storage_path, of which the second's has become
// unusable (a file where the directory was): the reload is refused with
// one line naming the path, and both running outputs must go on sending
// into a real Prometheus, none left closed by a handover (the first's
// comes before the second's directory is tried). Once the directory is
// back, the same reload goes through.
func TestSIGHUPRemoteWriteStorageUnusable(t *testing.T) {
	rcv := startReceiver(t, "prometheus")
	host := hostname(t)
	dir := t.TempDir()
	cfg, store := filepath.Join(dir, "hostpush.yml"), filepath.Join(dir, "rw")
	write := func(timeout string) {
		body := "push: {disabled: true, interval: 300ms}\nscrape: []\nremote_write:\n"
		for _, out := range []string{"first", "second"} {
			body += fmt.Sprintf("  - {name: %s, url: %q, timeout: %s, external_labels: {out: %s}, buffer: {storage_path: %q}}\n",
				out, "http://"+rcv+"/api/v1/write", timeout, out, map[string]string{"first": store + "-first", "second": store}[out])
		}
		if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sentAfter := func(what string, at time.Time) {
		t.Helper()
		for _, out := range []string{"first", "second"} {
			ts := fmt.Sprintf(`timestamp(node_uname_info{job="host-stats",instance=%q,out=%q})`, host, out)
			waitFor(t, what+" from output "+out, 10*time.Second, func() bool {
				v := query(t, rcv, ts)
				return len(v) == 1 && float64(v[0].Value) > float64(at.UnixMilli())/1000
			})
		}
	}
	write("5s")
	cmd, stderr := startAgent(t, "--config.file="+cfg, "--log.level=info")
	sentAfter("the first samples", time.Time{})

	if err := os.Rename(store, store+".moved"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(store, []byte("not a directory\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	write("6s")
	cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, "the refusal", 10*time.Second, func() bool { return strings.Contains(stderr.String(), "not reloaded") })
	refused := time.Now()
	if l := grepLines(stderr.String(), "not reloaded"); !strings.Contains(l, "remote_write second: buffer.storage_path") || !strings.Contains(l, store) {
		t.Errorf("refusal %q does not name the output, buffer.storage_path and %s", l, store)
	} else {
		t.Log(l)
	}
	sentAfter("samples after the refused reload", refused)
	if l := grepLines(stderr.String(), "closed"); l != "" {
		t.Errorf("a running output was closed by the refused reload:\n%s", l)
	}

	if err := os.Remove(store); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(store+".moved", store); err != nil {
		t.Fatal(err)
	}
	cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, "the reload with the directory back", 10*time.Second, func() bool { return reloadedAt(t, stderr.String(), 1) != (time.Time{}) })
	sentAfter("samples after the reload", reloadedAt(t, stderr.String(), 1))
}
