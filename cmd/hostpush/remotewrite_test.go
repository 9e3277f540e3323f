package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hostpush/hostpush/internal/procs"
)

// TestRemoteWriteToVictoriaMetrics runs the binary with the Pushgateway
// output off and one remote_write output into Debian's VictoriaMetrics:
// the host's series arrive under the same names with job and instance, as
// they would through a gateway scraped with honor_labels.
func TestRemoteWriteToVictoriaMetrics(t *testing.T) {
	bin, err := procs.LookPath("victoria-metrics", "victoria-metrics")
	if err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	vm, err := procs.Start("victoria-metrics", bin, []string{
		"-storageDataPath=" + t.TempDir(), "-httpListenAddr=" + addr, "-search.latencyOffset=0s", "-loggerLevel=ERROR",
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = vm.Stop(10 * time.Second) })
	ctx, cancel := context.WithTimeout(t.Context(), procs.StartTimeout)
	defer cancel()
	if err := procs.WaitHTTP(ctx, vm, "http://"+addr+"/health"); err != nil {
		t.Fatal(err)
	}

	host := hostname(t)
	cfg := filepath.Join(t.TempDir(), "hostpush.yml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`push: {disabled: true, interval: 500ms}
scrape: []
remote_write:
  - url: http://%s/api/v1/write
    external_labels: {region: test}
`, addr)), 0o644)
	startAgent(t, "--config.file="+cfg, "--log.level=error")

	for _, q := range []string{
		fmt.Sprintf(`node_uname_info{job="host-stats",instance=%q,region="test"}`, host),
		fmt.Sprintf(`hostpush_remote_write_samples_sent_total{job="host-stats",instance=%q}`, host),
	} {
		waitFor(t, q+" in VictoriaMetrics", 30*time.Second, func() bool { return len(query(t, addr, q)) > 0 })
	}
	// A histogram arrives as Prometheus would scrape it.
	q := fmt.Sprintf(`hostpush_push_duration_seconds_bucket{job="host-stats",instance=%q,le="+Inf"}`, host)
	waitFor(t, q, 30*time.Second, func() bool { return len(query(t, addr, q)) > 0 })
}
