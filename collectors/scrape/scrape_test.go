package scrape

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/client_golang/prometheus/push"
	dto "github.com/prometheus/client_model/go"

	"github.com/hostpush/hostpush/internal/batch"
	"github.com/hostpush/hostpush/internal/procs"
)

// startGateway runs a real Debian Pushgateway on a free loopback port.
func startGateway(t *testing.T) (url string, log *procs.Buffer) {
	t.Helper()
	addr, err := procs.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	log = &procs.Buffer{}
	p, err := procs.StartPushgateway(t.Context(), addr, log)
	if err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	t.Cleanup(func() { _ = p.Stop(5 * time.Second) })
	return "http://" + addr, log
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s %v", url, resp.Status, err)
	}
	return string(b)
}

// pushGroups PUTs each group to the gateway as hostpush does: job from the
// group, instance from the host (client_golang's pusher, protobuf).
func pushGroups(t *testing.T, gateway, instance string, groups []batch.Group) {
	t.Helper()
	for _, g := range groups {
		fams := g.Families
		err := push.New(gateway, g.Job).Grouping("instance", instance).
			Gatherer(prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) { return fams, nil })).
			Push()
		if err != nil {
			t.Fatalf("pushing group %s: %v", g.Job, err)
		}
	}
}

func testLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// clientGolangTarget serves a client_golang registry with the Go and process
// collectors and a histogram, as the image server does, through promhttp
// (which negotiates protobuf with our Accept header).
func clientGolangTarget(t *testing.T) *httptest.Server {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "app_request_duration_seconds", Help: "Request latency.",
		Buckets: []float64{0.02, 0.05, 0.1}}, []string{"code"})
	h.WithLabelValues("200").Observe(0.03)
	reg.MustRegister(h)
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	t.Cleanup(srv.Close)
	return srv
}

// TestGatherPushToRealGateway scrapes a real Pushgateway (which exposes
// pushed series carrying job and instance labels) and a client_golang
// endpoint, leaves one target down, and pushes the result to a second real
// Pushgateway, which must accept it with the scraped labels kept as
// exported_*.
func TestGatherPushToRealGateway(t *testing.T) {
	source, _ := startGateway(t)
	dest, destLog := startGateway(t)
	// Something for the source gateway to expose with job/instance labels.
	req, _ := http.NewRequest(http.MethodPut, source+"/metrics/job/batch/instance/worker1",
		strings.NewReader("# TYPE batch_records_total counter\nbatch_records_total 42\n"))
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("seeding the source gateway: %v %v", resp, err)
	}
	app := clientGolangTarget(t)
	down, err := procs.FreeAddr() // nothing listens there
	if err != nil {
		t.Fatal(err)
	}

	reg := prometheus.NewRegistry()
	s, err := New([]Target{
		{Name: "gw", URL: source + "/metrics"},
		{Name: "down", URL: "http://" + down + "/metrics", Timeout: time.Second},
		{Name: "app", URL: app.URL, Job: "imageserver"},
	}, testLogger(io.Discard), reg)
	if err != nil {
		t.Fatal(err)
	}
	groups := s.Gather(t.Context())
	if len(groups) != 2 || groups[0].Job != "gw" || groups[1].Job != "imageserver" {
		t.Fatalf("Gather() jobs = %v, want [gw imageserver] (down target left out)", jobs(groups))
	}
	own := gatherValues(t, reg)
	for series, want := range map[string]float64{
		`hostpush_scrape_success{target="app"}`:  1,
		`hostpush_scrape_success{target="down"}`: 0,
		`hostpush_scrape_success{target="gw"}`:   1,
	} {
		if got, ok := own[series]; !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", series, got, ok, want)
		}
	}
	for _, target := range []string{"app", "down", "gw"} {
		if _, ok := own[`hostpush_scrape_duration_seconds{target="`+target+`"}`]; !ok {
			t.Errorf("no hostpush_scrape_duration_seconds for %s", target)
		}
	}
	if own[`hostpush_scrape_series{target="app"}`] < 10 {
		t.Errorf("hostpush_scrape_series{target=\"app\"} = %v, want the process and histogram series", own[`hostpush_scrape_series{target="app"}`])
	}

	pushGroups(t, dest, "host1", groups)
	got := httpGet(t, dest+"/metrics")
	for _, want := range []string{
		`batch_records_total{exported_instance="worker1",exported_job="batch",instance="host1",job="gw"} 42`,
		`app_request_duration_seconds_bucket{code="200",instance="host1",job="imageserver",le="0.05"} 1`,
		`process_cpu_seconds_total{instance="host1",job="imageserver"}`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("destination gateway lacks %s in\n%s", want, got)
		}
	}
	for _, line := range strings.Split(got, "\n") {
		if strings.HasPrefix(line, "go_") && strings.Contains(line, `job="`) {
			t.Errorf("go_ series pushed: %s", line)
		}
	}
	if strings.Contains(destLog.String(), "level=error") || strings.Contains(destLog.String(), "This is bad") {
		t.Errorf("destination gateway complained:\n%s", destLog)
	}
}

func jobs(groups []batch.Group) []string {
	var out []string
	for _, g := range groups {
		out = append(out, g.Job)
	}
	return out
}

// TestGatherFaults covers what a real server cannot produce on demand: a
// hang, a 500, garbage, an oversized body. Each costs only its own group;
// the good target next to it is still gathered.
func TestGatherFaults(t *testing.T) {
	good := clientGolangTarget(t)
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer hang.Close()
	defer close(release)
	fail := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "boom", http.StatusInternalServerError)
	}))
	defer fail.Close()
	garbage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		io.WriteString(w, "<html><body>Welcome to nginx!</body></html>\n")
	}))
	defer garbage.Close()
	huge := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		line := []byte("# comment line padding the body past the limit ......................\n")
		for n := 0; n <= 4<<20; n += len(line) { // past the 1 MiB limit set below
			if _, err := w.Write(line); err != nil {
				return
			}
		}
	}))
	defer huge.Close()

	var logs procs.Buffer
	reg := prometheus.NewRegistry()
	s, err := New([]Target{
		{Name: "hang", URL: hang.URL, Timeout: 200 * time.Millisecond},
		{Name: "fail", URL: fail.URL},
		{Name: "garbage", URL: garbage.URL},
		{Name: "huge", URL: huge.URL, Timeout: 30 * time.Second},
		{Name: "good", URL: good.URL},
	}, testLogger(&logs), reg)
	if err != nil {
		t.Fatal(err)
	}
	s.maxBody = 1 << 20
	groups := s.Gather(t.Context())
	if len(groups) != 1 || groups[0].Job != "good" {
		t.Fatalf("Gather() jobs = %v, want only [good]", jobs(groups))
	}
	for target, want := range map[string]string{
		"hang":    "context deadline exceeded",
		"fail":    "status 500 Internal Server Error",
		"garbage": "parsing text exposition",
		"huge":    "response larger than",
	} {
		if v, ok := gatherValues(t, reg)[`hostpush_scrape_success{target="`+target+`"}`]; !ok || v != 0 {
			t.Errorf("hostpush_scrape_success{target=%q} = %v, want 0", target, v)
		}
		if !logHas(logs.String(), target, want) {
			t.Errorf("no warning for %s containing %q in:\n%s", target, want, logs.String())
		}
	}
}

func logHas(logs, target, want string) bool {
	for _, l := range strings.Split(logs, "\n") {
		if strings.Contains(l, "target="+target+" ") && strings.Contains(l, want) {
			return true
		}
	}
	return false
}

// TestGatherBoundedByContext: the tick's deadline cuts a fetch whose own
// timeout is longer.
func TestGatherBoundedByContext(t *testing.T) {
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	defer hang.Close()
	s, err := New([]Target{{Name: "hang", URL: hang.URL, Timeout: time.Hour}}, testLogger(io.Discard), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	if groups := s.Gather(ctx); len(groups) != 0 {
		t.Errorf("Gather() = %v groups, want none", len(groups))
	}
}

// TestDownLoggedOnChange: a target down for many ticks warns once, and
// says once when it is back.
func TestDownLoggedOnChange(t *testing.T) {
	up := false
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if !up {
			http.Error(w, "starting", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "# TYPE x gauge\nx 1\n")
	}))
	defer srv.Close()
	var logs procs.Buffer
	s, err := New([]Target{{Name: "t", URL: srv.URL}}, testLogger(&logs), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		s.Gather(t.Context())
	}
	mu.Lock()
	up = true
	mu.Unlock()
	for range 2 {
		if g := s.Gather(t.Context()); len(g) != 1 {
			t.Fatalf("Gather() after recovery = %d groups, want 1", len(g))
		}
	}
	if n := strings.Count(logs.String(), "scrape target down"); n != 1 {
		t.Errorf("%d down warnings, want 1:\n%s", n, logs.String())
	}
	if n := strings.Count(logs.String(), "scrape target answers again"); n != 1 {
		t.Errorf("%d recovery messages, want 1:\n%s", n, logs.String())
	}
}

// TestNewAgainOnSameRegistry is a config reload: the second Scraper takes
// over the metrics and a removed target's series disappear.
func TestNewAgainOnSameRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	s1, err := New([]Target{{Name: "old", URL: "http://127.0.0.1:1/metrics", Timeout: 100 * time.Millisecond}}, testLogger(io.Discard), reg)
	if err != nil {
		t.Fatal(err)
	}
	s1.Gather(t.Context())
	if _, err := New([]Target{{Name: "new", URL: "http://127.0.0.1:1/metrics"}}, testLogger(io.Discard), reg); err != nil {
		t.Fatalf("New() on the same registry = %v", err)
	}
	if got := gatherValues(t, reg); len(got) != 0 {
		t.Errorf("after reload: %v, want no series until the next gather", got)
	}
}

func TestNewRejectsInvalid(t *testing.T) {
	_, err := New([]Target{{Name: "x", URL: "nope"}}, testLogger(io.Discard), prometheus.NewRegistry())
	if err == nil || !strings.Contains(err.Error(), "scrape[0].url:") {
		t.Errorf("New(invalid) = %v, want an error naming scrape[0].url", err)
	}
}

// gatherValues flattens the gauges of reg to "name{label="value"}" -> value.
func gatherValues(t *testing.T, reg prometheus.Gatherer) map[string]float64 {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range fams {
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, lp := range m.GetLabel() {
				labels = append(labels, lp.GetName()+`="`+lp.GetValue()+`"`)
			}
			out[mf.GetName()+"{"+strings.Join(labels, ",")+"}"] = m.GetGauge().GetValue()
		}
	}
	return out
}

// TestRealTargetStopsAndReturns: a real server that goes away costs only
// its own group, and its group is back on the first gather after restart.
func TestRealTargetStopsAndReturns(t *testing.T) {
	addr, err := procs.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	start := func() *procs.Proc {
		p, err := procs.StartPushgateway(t.Context(), addr, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = p.Stop(5 * time.Second) })
		return p
	}
	reg := prometheus.NewRegistry()
	s, err := New([]Target{{Name: "gw", URL: "http://" + addr + "/metrics", Timeout: time.Second}}, testLogger(io.Discard), reg)
	if err != nil {
		t.Fatal(err)
	}
	success := func() float64 { return gatherValues(t, reg)[`hostpush_scrape_success{target="gw"}`] }

	p := start()
	if g := s.Gather(t.Context()); len(g) != 1 || success() != 1 {
		t.Fatalf("target up: %d groups, success %v; want 1 and 1", len(g), success())
	}
	_ = p.Stop(5 * time.Second)
	if g := s.Gather(t.Context()); len(g) != 0 || success() != 0 {
		t.Fatalf("target stopped: %d groups, success %v; want 0 and 0", len(g), success())
	}
	start()
	if g := s.Gather(t.Context()); len(g) != 1 || success() != 1 {
		t.Fatalf("target restarted: %d groups, success %v; want 1 and 1", len(g), success())
	}
}
