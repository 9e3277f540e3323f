package scrape

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hostpush/hostpush/internal/procs"
)

// TestRealImageServer scrapes bin/imageserver (after it served one real
// transform of the sample photo) and pushes the group to a real
// Pushgateway, which must keep the image server's families under
// job="imageserver" without complaining about any of them, process_*
// included.
func TestRealImageServer(t *testing.T) {
	bin, err := procs.Binary("imageserver")
	if err != nil {
		t.Fatalf("needs bin/imageserver; run make build (make test does): %v", err)
	}
	images := t.TempDir()
	if err := procs.SampleImage(t.Context(), images, "gophers.jpg"); err != nil {
		t.Fatal(err)
	}
	addr, err := procs.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	var log procs.Buffer
	srv, err := procs.StartImageServer(t.Context(), bin, addr, images, nil, &log)
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	t.Cleanup(func() { _ = srv.Stop(10 * time.Second) })
	resp, err := http.Get("http://" + addr + "/assets/images/gophers.jpg?fit=crop&w=256&h=256&crop=center&blur=4")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("image request: %s", resp.Status)
	}

	dest, destLog := startGateway(t)
	reg := prometheus.NewRegistry()
	s, err := New([]Target{{Name: "imageserver", URL: "http://" + addr + "/metrics"}}, testLogger(io.Discard), reg)
	if err != nil {
		t.Fatal(err)
	}
	groups := s.Gather(t.Context())
	if len(groups) != 1 || groups[0].Job != "imageserver" {
		t.Fatalf("Gather() jobs = %v, want [imageserver]", jobs(groups))
	}
	pushGroups(t, dest, "host1", groups)
	got := httpGet(t, dest+"/metrics")
	for _, want := range []string{
		`imageserver_http_requests_total{code="200",instance="host1",job="imageserver"} 1`,
		`imageserver_http_request_duration_seconds_bucket{instance="host1",job="imageserver",le="+Inf"} 1`,
		`imageserver_cache_misses_total{instance="host1",job="imageserver"} 1`,
		`process_resident_memory_bytes{instance="host1",job="imageserver"}`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("gateway lacks %s", want)
		}
	}
	for _, line := range strings.Split(got, "\n") {
		if strings.HasPrefix(line, "go_") && strings.Contains(line, `job="imageserver"`) {
			t.Errorf("go_ series pushed: %s", line)
		}
	}
	// Families whose help differs from the gateway's own are rewritten and
	// logged on every push; none may.
	if l := destLog.String(); strings.Contains(l, "This is bad") || strings.Contains(l, "level=error") {
		t.Errorf("gateway complained about the pushed image server group:\n%s", l)
	}
}
