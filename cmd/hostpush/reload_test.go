package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSIGHUPMovesPushesToNewGateway reloads a changed push.url and checks
// that pushes move to the new gateway, and that a collectors change is
// logged as needing a restart.
func TestSIGHUPReload(t *testing.T) {
	a, b := freeAddr(t), freeAddr(t)
	startGateway(t, a)
	startGateway(t, b)
	host := hostname(t)
	cfg := filepath.Join(t.TempDir(), "hostpush.yml")
	write := func(url, extra string) {
		body := fmt.Sprintf("push:\n  url: http://%s\n  interval: 300ms\nscrape: []\n%s", url, extra)
		if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(a, "")
	cmd, stderr := startAgent(t, "--config.file="+cfg, "--log.level=info")
	waitFor(t, "push to the first gateway", 20*time.Second, func() bool { return gatewayGroup(t, a, "host-stats", host)["node_uname_info"] > 0 })

	write(b, "collectors:\n  disable: [wifi]\n")
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "push to the second gateway after SIGHUP", 20*time.Second, func() bool { return gatewayGroup(t, b, "host-stats", host)["node_uname_info"] > 0 })
	waitFor(t, "the restart notice", 5*time.Second, func() bool { return strings.Contains(stderr.String(), "restart hostpush to apply") })

	// A broken file is refused and the running configuration kept.
	os.WriteFile(cfg, []byte("push:\n  intervall: 1s\n"), 0o644)
	cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, "the refusal", 5*time.Second, func() bool { return strings.Contains(stderr.String(), "configuration not reloaded") })
	if cmd.ProcessState != nil {
		t.Fatal("hostpush exited on a bad reload")
	}
	before := selfCounter(t, b, host, "success")
	waitFor(t, "pushes to go on after the refused reload", 10*time.Second, func() bool { return selfCounter(t, b, host, "success") > before })
}

func TestWebListenAddress(t *testing.T) {
	addr := freeAddr(t)
	startAgent(t, "--push.url=http://127.0.0.1:1", "--web.listen-address="+addr, "--log.level=error")
	var body string
	waitFor(t, "/metrics", 20*time.Second, func() bool {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		body = string(b)
		return resp.StatusCode == 200
	})
	if !strings.Contains(body, "node_uname_info{") || strings.Contains(body, "\ngo_") {
		t.Errorf("/metrics lacks node_uname_info or has go_*")
	}
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("/healthz: %v %v", err, resp)
	}
}

// TestScrapeTargetPushedAsOwnGroup scrapes a real server's /metrics (a
// second Pushgateway serves its own) beside the host group; a dead target
// shows as hostpush_scrape_success 0 and does not block the host push.
func TestScrapeTargetPushedAsOwnGroup(t *testing.T) {
	gw, target := freeAddr(t), freeAddr(t)
	startGateway(t, gw)
	startGateway(t, target)
	host := hostname(t)
	cfg := filepath.Join(t.TempDir(), "hostpush.yml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`push: {url: "http://%s", interval: 500ms}
scrape:
  - {name: sidecar, url: "http://%s/metrics"}
  - {name: dead, url: "http://127.0.0.1:1/metrics"}
`, gw, target)), 0o644)
	startAgent(t, "--config.file="+cfg, "--log.level=error")
	waitFor(t, "the scraped group", 20*time.Second, func() bool {
		return gatewayGroup(t, gw, "sidecar", host)["pushgateway_build_info"] > 0
	})
	if gatewayGroup(t, gw, "host-stats", host)["node_uname_info"] == 0 {
		t.Error("host group missing while a target is down")
	}
	waitFor(t, "hostpush_scrape_success for both targets", 10*time.Second, func() bool {
		return scrapeSuccess(t, gw, host, "dead") == "0" && scrapeSuccess(t, gw, host, "sidecar") == "1"
	})
}

func scrapeSuccess(t *testing.T, addr, host, target string) string {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "hostpush_scrape_success{") && strings.Contains(line, `instance="`+host+`"`) && strings.Contains(line, `target="`+target+`"`) {
			return line[strings.LastIndexByte(line, ' ')+1:]
		}
	}
	return ""
}

// TestSIGHUPRemoteWriteDiskBufferHandover changes a remote_write output
// that keeps its storage_path: the old output must release the directory
// before the new one takes it, or the reload fails.
func TestSIGHUPRemoteWriteDiskBufferHandover(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "hostpush.yml")
	write := func(region string) {
		os.WriteFile(cfg, []byte(fmt.Sprintf(`push: {disabled: true, interval: 200ms}
scrape: []
remote_write:
  - url: http://127.0.0.1:1/api/v1/write
    external_labels: {region: %s}
    buffer: {storage_path: %s}
`, region, filepath.Join(dir, "rw"))), 0o644)
	}
	write("a")
	cmd, stderr := startAgent(t, "--config.file="+cfg, "--log.level=info")
	waitFor(t, "startup", 20*time.Second, func() bool { return strings.Contains(stderr.String(), "starting hostpush") })
	write("b")
	cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, "the reload", 10*time.Second, func() bool {
		s := stderr.String()
		return strings.Contains(s, "configuration reloaded") || strings.Contains(s, "not reloaded")
	})
	if s := stderr.String(); strings.Contains(s, "not reloaded") {
		t.Fatalf("reload refused:\n%s", s)
	}
}
