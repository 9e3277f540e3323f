package imageserver

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/hostpush/hostpush/imageserver/params"
)

func TestServesImage(t *testing.T) {
	f := newFixture(t, nil)
	r := f.get(t, "/assets/images/photo.jpg?fit=crop&w=100&h=100&crop=center&blur=4")
	if r.code != 200 || r.header.Get("Content-Type") != "image/jpeg" || len(r.body) < 100 {
		t.Fatalf("got %d %s (%d bytes): %.100s", r.code, r.header.Get("Content-Type"), len(r.body), r.body)
	}
	if got := r.header.Get("Cache-Control"); got != "public, max-age=31536000" {
		t.Errorf("Cache-Control %q", got)
	}
	if r := f.get(t, "/assets/images/sub/pic.png?w=10"); r.code != 200 || r.header.Get("Content-Type") != "image/png" {
		t.Errorf("png in a subdirectory: %d %s", r.code, r.header.Get("Content-Type"))
	}
	if r := f.get(t, "/assets/images/alias.jpg?w=10"); r.code != 200 {
		t.Errorf("symlink inside the directory: %d %s", r.code, r.body)
	}
	if r := f.get(t, "/healthz"); r.code != 200 {
		t.Errorf("/healthz: %d", r.code)
	}
}

// TestBadInputs: each bad request gets its 4xx and a one-line message that
// names what is wrong.
func TestBadInputs(t *testing.T) {
	f := newFixture(t, nil)
	cases := []struct {
		path string
		code int
		want string
	}{
		{"/assets/images/photo.jpg?fit=stretch", 400, "fit: unknown value \"stretch\"; allowed: clip, crop, max, min, scale, fill"},
		{"/assets/images/photo.jpg?w=abc", 400, "w: \"abc\" is not a number"},
		{"/assets/images/photo.jpg?w=0", 400, "w: 0 is out of range"},
		{"/assets/images/photo.jpg?w=100000", 400, "w: 100000 is out of range"},
		{"/assets/images/photo.jpg?blur=9999", 400, "blur: 9999 is out of range; allowed: 0-2000"},
		{"/assets/images/photo.jpg?w=%zz", 400, "query string is malformed"},
		{"/assets/images/corrupt.jpg?w=10", 422, "corrupt"},
		{"/assets/images/truncated.jpg?w=10", 422, "corrupt or truncated"},
		{"/assets/images/notimage.jpg", 422, "not a supported image; allowed: jpeg, png, webp, gif, tiff, heic/heif, avif"},
		{"/assets/images/photo.jpg?w=4096&h=2049&fit=scale", 400, "allowed: at most 8388608 (limits.max-output-pixels)"},
		{"/assets/images/photo.jpg?w=2049&h=1024&fit=scale&fm=avif", 400, "allowed: at most 2097152 (limits.max-avif-output-pixels)"},
		{"/assets/images/photo.jpg?rect=900,0,10,10", 400, "rect: the region starts at 900,0, outside the 800x600 source"},
		{"/assets/images/photo.jpg?fill-color=nope", 400, "fill-color: \"nope\" is not a colour; allowed:"},
		{"/assets/images/bomb.png?w=10", 422, "pixels; allowed: at most 50000000"},
		{"/assets/images/missing.jpg", 404, "image not found"},
		{"/assets/images/sub", 404, "image not found"},
		{"/assets/images/", 404, "image not found"},
		{"/elsewhere", 404, "not found"},
	}
	for _, c := range cases {
		t.Run(c.path, func(t *testing.T) {
			r := f.get(t, c.path)
			if r.code != c.code || !strings.Contains(r.body, c.want) {
				t.Fatalf("got %d %q, want %d containing %q", r.code, r.body, c.code, c.want)
			}
			if strings.Count(strings.TrimSpace(r.body), "\n") != 0 {
				t.Errorf("message is not one line: %q", r.body)
			}
		})
	}
	req, _ := http.NewRequest("POST", f.http.URL+"/assets/images/photo.jpg", nil)
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	resp.Body.Close()
	if resp.StatusCode != 405 || resp.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST: %d, Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
	}
}

// TestTraversal: nothing outside the image directory is ever served.
func TestTraversal(t *testing.T) {
	f := newFixture(t, nil)
	for _, target := range []string{
		"/assets/images/../secret.txt",
		"/assets/images/%2e%2e/secret.txt",
		"/assets/images/%2E%2E%2Fsecret.txt",
		"/assets/images/sub/../../secret.txt",
		"/assets/images/..%2f..%2fsecret.txt",
		"/assets/images//etc/passwd",
		"/assets/images/%2fetc%2fpasswd",
		"/assets/images/out.jpg",
		"/assets/images/updir/secret.txt",
		"/assets/images/photo.jpg%00.png",
	} {
		t.Run(target, func(t *testing.T) {
			r := f.rawGet(t, target)
			if r.code == 200 || strings.Contains(r.body, secret) || strings.Contains(r.body, "root:") {
				t.Fatalf("got %d %q", r.code, r.body)
			}
			if r.code != 400 && r.code != 404 {
				t.Errorf("got %d, want 400 or 404", r.code)
			}
		})
	}
}

func TestSignature(t *testing.T) {
	const token = "s3cr3t"
	f := newFixture(t, func(c *Config) { c.SignToken = token })
	path := "/assets/images/photo.jpg"
	sig := params.Sign(token, path, "w=50&h=40")
	cases := []struct {
		query string
		code  int
	}{
		{"w=50&h=40&s=" + sig, 200},
		{"w=50&h=40", 403},
		{"w=50&h=41&s=" + sig, 403},
		{"h=40&w=50&s=" + sig, 403}, // order is part of the signature
		{"w=50&h=40&s=" + strings.ToUpper(sig), 200},
		{"w=50&h=40&s=00000000000000000000000000000000", 403},
	}
	for _, c := range cases {
		if r := f.get(t, path+"?"+c.query); r.code != c.code {
			t.Errorf("%s: %d %q, want %d", c.query, r.code, r.body, c.code)
		}
	}
	if r := f.get(t, "/assets/images/sub/pic.png?w=50&h=40&s="+sig); r.code != 403 {
		t.Errorf("signature for another path: %d", r.code)
	}
}

func TestCacheAnd304(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.MaxAge = time.Hour })
	u := "/assets/images/photo.jpg?w=120"
	first := f.get(t, u)
	etag := first.header.Get("ETag")
	if first.code != 200 || etag == "" || first.header.Get("Cache-Control") != "public, max-age=3600" {
		t.Fatalf("first: %d etag %q cc %q", first.code, etag, first.header.Get("Cache-Control"))
	}
	second := f.get(t, u)
	if second.body != first.body || second.header.Get("ETag") != etag {
		t.Fatal("second response differs from the first")
	}
	if n := testutil.ToFloat64(f.srv.m.hits); n != 1 {
		t.Errorf("cache hits %v, want 1", n)
	}
	if n := testutil.ToFloat64(f.srv.m.misses); n != 1 {
		t.Errorf("cache misses %v, want 1", n)
	}
	nm := f.get(t, u, "If-None-Match", etag)
	if nm.code != 304 || nm.body != "" {
		t.Errorf("If-None-Match: %d with %d bytes", nm.code, len(nm.body))
	}
	if r := f.get(t, u, "If-None-Match", `"other", W/`+etag); r.code != 304 {
		t.Errorf("weak match in a list: %d", r.code)
	}
	if r := f.get(t, u, "If-None-Match", `"other"`); r.code != 200 {
		t.Errorf("non-matching If-None-Match: %d", r.code)
	}
	if r := f.get(t, "/assets/images/photo.jpg?w=121"); r.header.Get("ETag") == etag {
		t.Error("other parameters, same ETag")
	}
	// a changed source changes the ETag
	later := time.Now().Add(time.Hour)
	must(t, os.Chtimes(filepath.Join(f.dir, "photo.jpg"), later, later))
	if r := f.get(t, u, "If-None-Match", etag); r.code != 200 || r.header.Get("ETag") == etag {
		t.Errorf("after the source changed: %d, ETag %s", r.code, r.header.Get("ETag"))
	}
	if f.srv.cache.Bytes() <= 0 || testutil.ToFloat64(f.srv.m.misses) != 3 {
		t.Errorf("cache bytes %d, misses %v", f.srv.cache.Bytes(), testutil.ToFloat64(f.srv.m.misses))
	}
}

func TestAutoFormat(t *testing.T) {
	f := newFixture(t, nil)
	u := "/assets/images/photo.jpg?w=50&auto=format"
	webp := f.get(t, u, "Accept", "image/avif,image/webp,*/*")
	if webp.header.Get("Content-Type") != "image/webp" || webp.header.Get("Vary") != "Accept" {
		t.Errorf("with webp accepted: %s, Vary %q", webp.header.Get("Content-Type"), webp.header.Get("Vary"))
	}
	jpg := f.get(t, u, "Accept", "image/*")
	if jpg.header.Get("Content-Type") != "image/jpeg" || jpg.header.Get("Vary") != "Accept" || jpg.header.Get("ETag") == webp.header.Get("ETag") {
		t.Errorf("without webp: %s, Vary %q", jpg.header.Get("Content-Type"), jpg.header.Get("Vary"))
	}
	if r := f.get(t, u+"&fm=png", "Accept", "image/webp"); r.header.Get("Content-Type") != "image/png" {
		t.Errorf("fm overrides auto=format: %s", r.header.Get("Content-Type"))
	}
	if r := f.get(t, u, "Accept", "image/webp;q=0"); r.header.Get("Content-Type") != "image/jpeg" {
		t.Errorf("webp refused with q=0: %s", r.header.Get("Content-Type"))
	}
}

// TestCollapse: identical concurrent requests run one transform.
func TestCollapse(t *testing.T) {
	f := newFixture(t, nil)
	gate := make(chan struct{})
	f.beforeTransform(func() { <-gate })
	var wg sync.WaitGroup
	codes := make(chan int, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); codes <- f.get(t, "/assets/images/photo.jpg?w=77").code }()
	}
	time.Sleep(200 * time.Millisecond)
	close(gate)
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != 200 {
			t.Errorf("code %d", c)
		}
	}
	if got := histCount(t, f.reg, "imageserver_transform_step_duration_seconds", `step="encode"`); got != 1 {
		t.Errorf("%v encodes for 8 identical requests, want 1", got)
	}
	if n := testutil.ToFloat64(f.srv.m.collapsed); n != 7 {
		t.Errorf("collapsed %v, want 7", n)
	}
}

// TestPanicIsolated: a panic while serving or transforming answers 500 and
// the server goes on.
func TestPanicIsolated(t *testing.T) {
	f := newFixture(t, nil)
	var transforms atomic.Int32
	f.beforeTransform(func() {
		if transforms.Add(1) == 1 {
			panic("injected transform panic")
		}
	})
	if r := f.get(t, "/assets/images/photo.jpg?w=10"); r.code != 500 || strings.Contains(r.body, "injected") {
		t.Errorf("transform panic: %d %q", r.code, r.body)
	}
	pw := &panicOnceWriter{ResponseRecorder: httptest.NewRecorder()}
	f.srv.ServeHTTP(pw, httptest.NewRequest("GET", "/assets/images/sub/pic.png?w=10", nil))
	if r := (response{pw.Code, pw.ResponseRecorder.Header(), pw.Body.String()}); r.code != 500 || strings.Contains(r.body, "injected") {
		t.Errorf("handler panic: %d %q", r.code, r.body)
	}
	if r := f.get(t, "/assets/images/photo.jpg?w=10"); r.code != 200 {
		t.Errorf("after the panics: %d", r.code)
	}
	if n := testutil.ToFloat64(f.srv.m.panics); n != 1 {
		t.Errorf("handler panics counted %v, want 1", n)
	}
}

// TestOverload: far more distinct transforms than one worker can do; only
// 200 and 503 (with Retry-After) come back, the 503s quickly.
func TestOverload(t *testing.T) {
	f := newFixture(t, func(c *Config) {
		c.Admission.Workers, c.Admission.QueueSize, c.Admission.Timeout = 1, 3, 300*time.Millisecond
	})
	f.beforeTransform(func() { time.Sleep(100 * time.Millisecond) }) // a slow transform, whatever the machine
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := f.get(t, fmt.Sprintf("/assets/images/photo.jpg?w=%d", 100+i))
			if r.code == 503 && r.header.Get("Retry-After") == "" {
				t.Error("503 without Retry-After")
			}
			mu.Lock()
			codes[r.code]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if codes[200] == 0 || codes[503] == 0 || codes[200]+codes[503] != 40 {
		t.Fatalf("codes %v, want only 200 and 503, some of each", codes)
	}
	rej := testutil.ToFloat64(f.srv.m.rejections.WithLabelValues("queue_full")) + testutil.ToFloat64(f.srv.m.rejections.WithLabelValues("queue_timeout")) +
		testutil.ToFloat64(f.srv.m.rejections.WithLabelValues("queue_predicted"))
	if int(rej) != codes[503] {
		t.Errorf("rejections counted %v, 503s %d", rej, codes[503])
	}
	if f.srv.main.adm.InFlight() != 0 || f.srv.main.adm.Waiting() != 0 {
		t.Errorf("after the burst: %d in flight, %d waiting", f.srv.main.adm.InFlight(), f.srv.main.adm.Waiting())
	}
}

// TestTransformTimeout: a transform past its time limit is answered 503.
func TestTransformTimeout(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.TransformTimeout = 50 * time.Millisecond })
	f.beforeTransform(func() { time.Sleep(100 * time.Millisecond) }) // the pipeline sees the deadline at its first step
	if r := f.get(t, "/assets/images/photo.jpg?w=10"); r.code != 503 || r.header.Get("Retry-After") == "" {
		t.Errorf("got %d %q, Retry-After %q", r.code, r.body, r.header.Get("Retry-After"))
	}
	if n := testutil.ToFloat64(f.srv.m.rejections.WithLabelValues("transform_timeout")); n != 1 {
		t.Errorf("transform_timeout rejections %v, want 1", n)
	}
}

// TestClientGone: a request whose client leaves while it waits for a worker
// is dropped without a transform.
func TestClientGone(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.Admission.Workers, c.Admission.Timeout = 1, 5*time.Second })
	block := make(chan struct{})
	unblock := sync.OnceFunc(func() { close(block) })
	t.Cleanup(unblock) // before the fixture's: a failed test must not leave handlers blocked
	f.beforeTransform(func() { <-block })
	go f.get(t, "/assets/images/photo.jpg?w=11") // holds the only worker
	time.Sleep(100 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", f.http.URL+"/assets/images/photo.jpg?w=12", nil)
	if _, err := http.DefaultClient.Do(req); err == nil {
		t.Fatal("request should have been abandoned")
	}
	deadline := time.Now().Add(5 * time.Second)
	for testutil.ToFloat64(f.srv.m.rejections.WithLabelValues("client_gone")) != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the abandoned request was not counted as client_gone")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The handler counts the client as gone when its own wait ends; the
	// collapsed transform leaves the queue when its context (cancelled once
	// every waiter left) reaches the admission controller, a moment later.
	for f.srv.main.adm.Waiting() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d still waiting for a slot after the only client left", f.srv.main.adm.Waiting())
		}
		time.Sleep(10 * time.Millisecond)
	}
	unblock()
}

// TestMetricNames: the series the dashboard uses exist.
func TestMetricNames(t *testing.T) {
	f := newFixture(t, nil)
	f.get(t, "/assets/images/photo.jpg?w=10")
	body := f.get(t, "/metrics").body
	for _, name := range []string{
		"imageserver_http_requests_total{code=\"200\"} 1",
		"imageserver_http_request_duration_seconds_bucket{le=\"0.02\"}",
		"imageserver_http_request_duration_seconds_bucket{le=\"10\"}",
		"imageserver_transform_step_duration_seconds_bucket{step=\"render\"",
		"imageserver_queue_wait_seconds_bucket{pool=\"default\"", "imageserver_queue_wait_seconds_bucket{pool=\"avif\"",
		"imageserver_transforms_in_flight{pool=\"default\"} 0", "imageserver_queue_waiting{pool=\"avif\"} 0",
		"imageserver_transform_hold_seconds{pool=\"default\"} 0.", "imageserver_rejections_total{reason=\"queue_predicted\"} 0",
		"imageserver_rejections_total{reason=\"queue_timeout\"} 0", "imageserver_cache_hits_total 0",
		"imageserver_cache_misses_total 1", "imageserver_cache_bytes ", "imageserver_cache_entries 1",
		"imageserver_cache_max_bytes ", "imageserver_collapsed_requests_total 0", "imageserver_panics_total 0",
		"imageserver_workers{pool=\"default\"} 2", "imageserver_workers{pool=\"avif\"} 1",
	} {
		if !strings.Contains(body, name) {
			t.Errorf("/metrics lacks %s", name)
		}
	}
}

// TestSeparateMetrics: with SeparateMetrics, the image handler answers
// /metrics 404 and Metrics serves the registry instead.
func TestSeparateMetrics(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.SeparateMetrics = true })
	if r := f.get(t, "/metrics"); r.code != 404 {
		t.Errorf("/metrics on the image handler: %d, want 404", r.code)
	}
	if r := f.get(t, "/healthz"); r.code != 200 {
		t.Errorf("/healthz: %d", r.code)
	}
	rec := httptest.NewRecorder()
	f.srv.Metrics().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), "imageserver_http_requests_total{code=\"404\"} 1") {
		t.Errorf("Metrics: %d %.200s", rec.Code, rec.Body.String())
	}
	if r := newFixture(t, nil).get(t, "/metrics"); r.code != 200 {
		t.Errorf("/metrics by default: %d, want 200", r.code)
	}
}
