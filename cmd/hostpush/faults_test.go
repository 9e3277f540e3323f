package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hostpush/hostpush/internal/procs"
)

func TestDeleteOnShutdownRemovesGroup(t *testing.T) {
	addr := freeAddr(t)
	startGateway(t, addr)
	host := hostname(t)
	cfg := filepath.Join(t.TempDir(), "hostpush.yml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("push: {url: \"http://%s\", interval: 300ms, delete_on_shutdown: true}\nscrape: []\n", addr)), 0o644)
	cmd, stderr := startAgent(t, "--config.file="+cfg, "--log.level=error")
	waitFor(t, "the group", 20*time.Second, func() bool { return gatewayGroup(t, addr, "host-stats", host)["node_uname_info"] > 0 })
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit: %v; %s", err, stderr)
	}
	// The gateway answers a DELETE before it applies it (202 Accepted).
	waitFor(t, "the group to be deleted after a clean stop with delete_on_shutdown", 5*time.Second, func() bool {
		return total(gatewayGroup(t, addr, "host-stats", host)) == 0
	})
}

func TestOnceDNSFailure(t *testing.T) {
	r := runBin(t, "--once", "--push.url=http://gateway.invalid:9091", "--log.level=error")
	if r.code != 1 {
		t.Fatalf("exit %d, want 1", r.code)
	}
	last := lastLine(r.stderr)
	if !strings.Contains(last, "gateway.invalid") || strings.Contains(r.stderr, "goroutine") {
		t.Errorf("last line %q should name the host; no stack trace", last)
	}
}

// TestHangingGatewayKeepsCadenceAndMemory points hostpush at a gateway that
// accepts and never answers (only a fake can do that on demand) for many
// ticks: pushes time out, hostpush lives on, and resident memory does not
// grow with the number of failed pushes.
func TestHangingGatewayMemoryBounded(t *testing.T) {
	hang := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(hang)
	cfg := filepath.Join(t.TempDir(), "hostpush.yml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("push: {url: %q, interval: 200ms, timeout: 100ms}\nscrape: []\n", srv.URL)), 0o644)
	cmd, _ := startAgent(t, "--config.file="+cfg, "--log.level=error")

	time.Sleep(3 * time.Second)
	early := rssKB(t, cmd.Process.Pid)
	time.Sleep(9 * time.Second)
	late := rssKB(t, cmd.Process.Pid)
	t.Logf("RSS after ~15 hung pushes %d kB, after ~60: %d kB", early, late)
	if late > early+4096 {
		t.Errorf("RSS grew from %d kB to %d kB while the gateway hung: something accumulates per failed push", early, late)
	}
	if cmd.ProcessState != nil {
		t.Fatal("hostpush exited")
	}
}

func rssKB(t *testing.T, pid int) int {
	t.Helper()
	u, err := procs.ReadUsage(pid)
	if err != nil {
		t.Fatal(err)
	}
	return int(u.RSS / 1024)
}
