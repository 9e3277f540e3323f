package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/hostpush/hostpush/imageserver/testimages"
	"github.com/hostpush/hostpush/internal/webconfig/webtest"
)

// TestSeparateMetricsListener runs the command with /metrics on a listener
// of its own behind a web configuration file: there it asks for the
// credentials (401 without, 200 with; over HTTPS with a TLS file), while
// the image port serves images to anyone and no longer serves /metrics.
func TestSeparateMetricsListener(t *testing.T) {
	dir := t.TempDir()
	imgs := imageDir(t, dir, "gophers.jpg", testimages.JPEG(testimages.Gradient(320, 240)))
	auth, tlsCfg, tlsClient := webtest.Configs(t)
	for _, c := range []struct {
		name, webConfig, scheme string
		client                  *http.Client
	}{
		{"basic auth", auth, "http", http.DefaultClient},
		{"tls and basic auth", tlsCfg, "https", tlsClient},
	} {
		t.Run(c.name, func(t *testing.T) {
			images, metrics := freeAddr(t), freeAddr(t)
			stop := startServer(t, "--images.dir="+imgs, "--web.listen-address="+images,
				"--web.metrics-listen-address="+metrics, "--web.config.file="+c.webConfig, "--log.level=warn")
			defer stop()
			metricsURL := c.scheme + "://" + metrics + "/metrics"
			waitFor(t, func() bool { code, err := webtest.Get(c.client, metricsURL, false); return err == nil && code == 401 })
			if code, err := webtest.Get(c.client, metricsURL, true); err != nil || code != 200 {
				t.Errorf("%s with credentials: %d %v, want 200", metricsURL, code, err)
			}
			for path, want := range map[string]int{"/assets/images/gophers.jpg?w=100": 200, "/metrics": 404, "/healthz": 200} {
				if code, err := webtest.Get(http.DefaultClient, "http://"+images+path, false); err != nil || code != want {
					t.Errorf("image port %s without credentials: %d %v, want %d", path, code, err, want)
				}
			}
			if c.scheme == "https" { // Go's TLS server refuses plain HTTP with a 400
				if code, err := webtest.Get(http.DefaultClient, "http://"+metrics+"/metrics", true); err != nil || code != 400 {
					t.Errorf("plain HTTP to the TLS metrics listener: %d %v, want 400", code, err)
				}
			}
		})
	}
}

// startServer runs the command until the returned func stops it, and
// fails the test if it then does not exit 0.
func startServer(t *testing.T, args ...string) func() {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var errs bytes.Buffer // read only after run returned
	go func() { done <- run(ctx, args, io.Discard, &errs) }()
	return func() {
		t.Helper()
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("exit %d: %s", code, errs.String())
			}
		case <-time.After(15 * time.Second):
			t.Fatal("no exit within 15 s of cancellation")
		}
	}
}
