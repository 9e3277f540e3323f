package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/hostpush/hostpush/internal/cli"
	"github.com/hostpush/hostpush/internal/procs"
)

// TestGeneratedPrometheusConfig: promtool accepts what devstack writes.
func TestGeneratedPrometheusConfig(t *testing.T) {
	promtool, err := procs.LookPath("promtool", "prometheus")
	if err != nil {
		t.Fatal(err)
	}
	path := t.TempDir() + "/prometheus.yml"
	writeFile(t, path, prometheusConfig("127.0.0.1:9091", 5*time.Second))
	if out, err := exec.Command(promtool, "check", "config", path).CombinedOutput(); err != nil {
		t.Fatalf("promtool check config: %v\n%s", err, out)
	}
}

func TestFlags(t *testing.T) {
	for _, args := range [][]string{{"--push.interval=10ms"}, {"--no-such-flag"}} {
		_, err := parseFlags(args, io.Discard, io.Discard)
		if cli.Exit("devstack", err, io.Discard) != cli.ExitConfig {
			t.Errorf("parseFlags(%v) = %v, want a usage error (exit 2)", args, err)
		}
	}
	// --help prints the usage and starts nothing
	var out strings.Builder
	if c, err := parseFlags([]string{"--help"}, &out, io.Discard); c != nil || err != nil || !strings.Contains(out.String(), "--push.interval") {
		t.Errorf("parseFlags(--help) = %v, %v with usage %q; want nil, nil and the usage", c, err, out.String())
	}
}

// TestStackEndToEnd runs the whole stack on free loopback ports with the
// real bin/hostpush, waits until Prometheus has hostpush's data through the
// Pushgateway, then stops it as Ctrl-C would and checks every server is gone.
func TestStackEndToEnd(t *testing.T) {
	hostpush, err := procs.Binary("hostpush")
	if err != nil {
		t.Fatalf("needs bin/hostpush; run make build (make test does): %v", err)
	}
	gw, prom, img := freeAddr(t), freeAddr(t), ""
	// With bin/imageserver built, the stack includes it and hostpush's
	// scrape of it must reach Prometheus too.
	want := []string{`node_uname_info{job="host-stats"}`}
	if _, err := procs.Binary("imageserver"); err == nil {
		img = freeAddr(t)
		want = append(want, `hostpush_scrape_success{target="imageserver"} == 1`, `process_resident_memory_bytes{job="imageserver"}`)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var stdout, stderr procs.Buffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--gateway.address=" + gw, "--prometheus.address=" + prom,
			"--imageserver.address=" + img, "--push.interval=1s", "--bin.dir=" + strings.TrimSuffix(hostpush, "/hostpush")}, &stdout, &stderr)
	}()

	deadline := time.Now().Add(60 * time.Second)
	for !hasAll(t, prom, want) {
		select {
		case err := <-done:
			t.Fatalf("devstack exited early: %v\nstderr:\n%s", err, stderr.String())
		case <-time.After(500 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("Prometheus never had all of %v\nstderr:\n%s", want, stderr.String())
		}
	}
	if out := stdout.String(); !strings.Contains(out, "http://"+gw) || !strings.Contains(out, "http://"+prom) {
		t.Errorf("devstack did not print the URLs to open:\n%s", out)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run() after cancel = %v, want nil", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("devstack did not stop within 30s of the signal")
	}
	for _, url := range []string{"http://" + gw + "/-/ready", "http://" + prom + "/-/ready", "http://" + img + "/healthz"} {
		if img == "" && strings.HasSuffix(url, "/healthz") {
			continue
		}
		if answers(context.Background(), url) {
			t.Errorf("%s still answers after devstack stopped", url)
		}
	}
	if s := stderr.String(); strings.Index(s, "stopping hostpush") > strings.Index(s, "stopping pushgateway") {
		t.Errorf("stop order is not hostpush before pushgateway:\n%s", s)
	}
}

func hasAll(t *testing.T, prom string, queries []string) bool {
	for _, q := range queries {
		if !hasData(t, prom, q) {
			return false
		}
	}
	return true
}

func hasData(t *testing.T, prom, query string) bool {
	t.Helper()
	resp, err := http.Get("http://" + prom + "/api/v1/query?query=" + url.QueryEscape(query))
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	var r struct {
		Data struct {
			Result []json.RawMessage `json:"result"`
		} `json:"data"`
	}
	return json.NewDecoder(resp.Body).Decode(&r) == nil && len(r.Data.Result) > 0
}

func freeAddr(t *testing.T) string {
	t.Helper()
	a, err := procs.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
