package imageserver

// The test server over generated images, and the requests the tests make.

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hostpush/hostpush/imageserver/params"
	"github.com/hostpush/hostpush/imageserver/pipeline"
	"github.com/hostpush/hostpush/imageserver/testimages"
)

const secret = "the secret file outside the image directory"

type fixture struct {
	srv  *Server
	http *httptest.Server
	reg  *prometheus.Registry
	dir  string
}

// newFixture serves a directory of generated images, with a secret file
// and symlinks next to and out of it.
func newFixture(t *testing.T, mutate func(*Config)) *fixture {
	t.Helper()
	base := t.TempDir()
	dir := filepath.Join(base, "images")
	must(t, os.MkdirAll(filepath.Join(dir, "sub"), 0o755))
	must(t, os.WriteFile(filepath.Join(base, "secret.txt"), []byte(secret), 0o644))
	jpg := testimages.JPEG(testimages.Gradient(800, 600))
	files := map[string][]byte{
		"photo.jpg":     jpg,
		"sub/pic.png":   testimages.PNG(testimages.Gradient(300, 200)),
		"truncated.jpg": jpg[:len(jpg)/2],
		"corrupt.jpg":   append(append([]byte{}, jpg[:200]...), make([]byte, 5000)...),
		"notimage.jpg":  []byte("just some text\n"),
		"bomb.png":      testimages.BombPNG(30000, 30000),
	}
	for name, b := range files {
		must(t, os.WriteFile(filepath.Join(dir, name), b, 0o644))
	}
	must(t, os.Symlink(filepath.Join(base, "secret.txt"), filepath.Join(dir, "out.jpg")))
	must(t, os.Symlink(base, filepath.Join(dir, "updir")))
	must(t, os.Symlink("photo.jpg", filepath.Join(dir, "alias.jpg")))

	cfg := DefaultConfig(2)
	cfg.ImagesDir = dir
	if mutate != nil {
		mutate(&cfg)
	}
	reg := prometheus.NewRegistry()
	srv, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), reg)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(func() { hs.Close(); _ = srv.Close() })
	return &fixture{srv: srv, http: hs, reg: reg, dir: dir}
}

// stubPipe runs before ahead of every transform of the real pipeline: a
// slow, stuck or panicking transform, whatever the machine.
type stubPipe struct {
	processor
	before func()
}

func (p stubPipe) Process(ctx context.Context, src []byte, opts params.Options, fm params.Format) (pipeline.Result, error) {
	p.before()
	return p.processor.Process(ctx, src, opts, fm)
}

// beforeTransform makes the server call before ahead of every transform.
func (f *fixture) beforeTransform(before func()) { f.srv.pipe = stubPipe{f.srv.pipe, before} }

// panicOnceWriter is a ResponseWriter whose first Header call panics: a
// panic in the handler itself, outside any transform.
type panicOnceWriter struct {
	*httptest.ResponseRecorder
	panicked bool
}

func (w *panicOnceWriter) Header() http.Header {
	if !w.panicked {
		w.panicked = true
		panic("injected handler panic")
	}
	return w.ResponseRecorder.Header()
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

type response struct {
	code   int
	header http.Header
	body   string
}

func (f *fixture) get(t *testing.T, path string, hdr ...string) response {
	t.Helper()
	// no t.Fatal here: tests call get from goroutines; failures show as code -1
	req, err := http.NewRequest("GET", f.http.URL+path, nil)
	if err != nil {
		return response{code: -1, body: err.Error()}
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return response{code: -1, body: err.Error()}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{resp.StatusCode, resp.Header, string(b)}
}

// rawGet sends the request line exactly as given, bypassing any client-side
// path handling.
func (f *fixture) rawGet(t *testing.T, target string) response {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(f.http.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", target)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{resp.StatusCode, resp.Header, string(b)}
}

// histCount reads a histogram's sample count for a label from the registry.
func histCount(t *testing.T, reg *prometheus.Registry, name, label string) uint64 {
	t.Helper()
	mfs, err := reg.Gather()
	must(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()) == label {
					return m.GetHistogram().GetSampleCount()
				}
			}
		}
	}
	return 0
}
