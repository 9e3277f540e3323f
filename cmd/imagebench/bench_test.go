package main

import (
	"bytes"
	"fmt"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/hostpush/hostpush/internal/cli"
)

func TestBustQueryDistinct(t *testing.T) {
	tests := []struct {
		name, query string
		n           int
	}{
		{"seed scenario", "fit=crop&w=1024&h=1024&crop=center&blur=4", 25600},
		{"no dimensions", "blur=4", 25},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			seen := map[string]bool{}
			for i := range uint64(tc.n) {
				q, _ := url.ParseQuery(tc.query)
				q = bustQuery(q, i)
				q.Del("cb") // distinct even for a server that drops unknown parameters
				if v, _ := strconv.Atoi(q.Get("q")); v < 1 || v > 100 {
					t.Fatalf("request %d: q=%d outside 1-100", i, v)
				}
				seen[q.Encode()] = true
			}
			if len(seen) != tc.n {
				t.Errorf("%d distinct transforms in %d requests, want all distinct", len(seen), tc.n)
			}
		})
	}
}

func TestQuantile(t *testing.T) {
	var lat []time.Duration
	for i := 1; i <= 100; i++ {
		lat = append(lat, time.Duration(i)*time.Millisecond)
	}
	for q, want := range map[float64]time.Duration{0.5: 50 * time.Millisecond, 0.99: 99 * time.Millisecond, 1: 100 * time.Millisecond, 0: time.Millisecond} {
		if got := quantile(lat, q); got != want {
			t.Errorf("quantile(%v) = %s, want %s", q, got, want)
		}
	}
	if got := quantile(nil, 0.5); got != 0 {
		t.Errorf("quantile(empty) = %s", got)
	}
}

func TestFlagErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--rate=0"}, "--rate=0: want 1 to 100000"},
		{[]string{"--duration=10ms"}, "--duration=10ms: want at least 1s"},
		{[]string{"--url=images/x.jpg"}, "a path must start with /"},
		{[]string{"--url=ftp://h/x"}, "scheme must be http or https"},
		{[]string{"--server.url=localhost:3002"}, "want a base URL"},
		{[]string{"--server.pid=5"}, "--server.pid: only with --server.url"},
		{[]string{"--name=../x"}, "want a plain folder name"},
		{[]string{"--plot.format=gif"}, "plot.format"},
		{[]string{"--urls.file=/nonexistent"}, "--urls.file"},
		{[]string{"--scenarios=seed,nope"}, `"nope" is not one of seed, uncached, sustained, overload, avif-burst`},
		{[]string{"--scenarios=seed", "--server.url=http://127.0.0.1:3002"}, "not with --server.url"},
		{[]string{"--uncached.rate=0"}, "want at least 1 request per second"},
	}
	for _, tc := range tests {
		_, err := parseFlags(tc.args, io.Discard, io.Discard)
		if err == nil || cli.Exit("imagebench", err, io.Discard) != cli.ExitConfig || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("parseFlags(%v) = %v, want a usage error containing %q", tc.args, err, tc.want)
		}
	}
	// --help prints the usage and runs nothing
	var out strings.Builder
	if c, err := parseFlags([]string{"--help"}, &out, io.Discard); c != nil || err != nil || !strings.Contains(out.String(), "--scenarios") {
		t.Errorf("parseFlags(--help) = %v, %v with usage %q; want nil, nil and the usage", c, err, out.String())
	}
}

// TestRunAgainstServer attacks a local server (standing in for the image
// server; the real one is exercised by make bench), sampling this test
// process as "the server", and checks the report and the plot files.
func TestRunAgainstServer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("cb") == "7" {
			http.Error(w, "overloaded", http.StatusServiceUnavailable)
			return
		}
		time.Sleep(3 * time.Millisecond)
		w.Write(bytes.Repeat([]byte{0xff}, 1000))
	}))
	defer srv.Close()
	dir := t.TempDir()
	for _, format := range []string{"png", "svg"} {
		var stdout, stderr bytes.Buffer
		err := run(t.Context(), []string{"--name=t" + format, "--rate=20", "--duration=2s", "--cache-bust",
			"--server.url=" + srv.URL, "--server.pid=" + strconv.Itoa(os.Getpid()), "--output.dir=" + dir,
			"--plot.format=" + format, "--sample.interval=50ms"}, &stdout, &stderr)
		if err != nil {
			t.Fatalf("run() = %v\n%s", err, stderr.String())
		}
		out := stdout.String()
		// vegeta may send one request fewer than rate x duration on a busy
		// machine; request cb=7 is the one 503 either way.
		m := regexp.MustCompile(`Requests (\d+)   success`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("%s: no request count in the report:\n%s", format, out)
		}
		n, _ := strconv.Atoi(m[1])
		if n < 38 || n > 40 {
			t.Errorf("%s: %d requests, want 40 (20/s for 2s), or one or two fewer", format, n)
		}
		for _, want := range []string{"[0s,", "20ms]", "[10s,", "+Inf]", fmt.Sprintf("success %.2f%%", 100*float64(n-1)/float64(n)),
			fmt.Sprintf("codes 200:%d 503:1", n-1), "p50 ", "p99 ", "max ", fmt.Sprintf("Served   %d successful", n-1),
			"Server   CPU", "per successful one", "peak RSS"} {
			if !strings.Contains(out, want) {
				t.Errorf("%s: report lacks %q:\n%s", format, want, out)
			}
		}
		if !strings.Contains(stderr.String(), fmt.Sprintf("%d done", n)) {
			t.Errorf("%s: no progress line with the final count in stderr:\n%s", format, stderr.String())
		}
		for _, name := range []string{"latency", "histogram", "server"} {
			path := filepath.Join(dir, "t"+format, name+"."+format)
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			switch format {
			case "png":
				if _, err := png.Decode(bytes.NewReader(b)); err != nil {
					t.Errorf("%s: not a PNG: %v", path, err)
				}
			case "svg":
				if !bytes.Contains(b, []byte("<svg")) {
					t.Errorf("%s: not an SVG", path)
				}
			}
		}
		if _, err := os.Stat(filepath.Join(dir, "t"+format, "summary.txt")); err != nil {
			t.Error(err)
		}
	}
}

// TestBucketOfMatchesVegeta: the stacked plot counts like the printed
// histogram.
func TestBucketOfMatchesVegeta(t *testing.T) {
	h := vegeta.Histogram{Buckets: Buckets}
	for _, d := range []time.Duration{0, time.Millisecond, 20 * time.Millisecond, 499 * time.Millisecond, time.Second, 10 * time.Second, time.Hour} {
		h.Add(&vegeta.Result{Latency: d})
		i := bucketOf(d)
		if h.Counts[i] == 0 {
			t.Errorf("bucketOf(%s) = %d, vegeta counted it elsewhere: %v", d, i, h.Counts)
		}
		h.Counts = make([]uint64, len(Buckets))
	}
}

// TestScenarioReport: a scenario's report has the lines bench-imageserver
// has always printed, and its verdict is measured against its target.
func TestScenarioReport(t *testing.T) {
	o := &outcome{Hist: vegeta.Histogram{Buckets: Buckets}, CPU: 2, PeakRSS: 150e6, Duration: 10 * time.Second}
	for i := range 100 {
		r := vegeta.Result{Code: 200, Latency: time.Duration(i+1) * time.Millisecond}
		if i%4 == 0 {
			r.Code = 503
		}
		o.Metrics.Add(&r)
		o.Hist.Add(&r)
		o.Results = append(o.Results, r)
	}
	o.Metrics.Close()
	c := &config{Name: "overload", Rate: 10, Duration: 10 * time.Second, CacheBust: true}
	var b bytes.Buffer
	writeScenario(&b, c, scenarios[3], o, time.Second, 5*time.Second)
	verdict(&b, scenarios[3], o, &serverView{cacheBytes: 30e6})
	for _, want := range []string{
		"== overload: 10 req/s for 10s, a distinct URL ==",
		"target: only 200 and 503; 503s p99 < 50ms",
		"requests 100, ", "status codes map[200:75 503:25]",
		"latency p50 50ms  p95 95ms  p99 99ms  max 100ms  (max of 200s 100ms)",
		"server CPU 2s total, 26.7ms per 200 response, 20ms per request; peak RSS (VmHWM) 150.0 MB",
		"machine: vegeta used 0.10 cores, other processes 0.50 of the",
		"[0s,     20ms]", "[10s,    +Inf]",
		"vs target: max of 200s / 1s = 0.10, responses other than 200/503: 0, (peak RSS - cached results 30 MB)/300MB = 0.40",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, b.String())
		}
	}
}

// TestPhasesReport: the overload and avif-burst lines carry the 503
// latency, goodput against the sustained rate, and the seed's latency
// before and during the burst.
func TestPhasesReport(t *testing.T) {
	start := time.Now()
	o := &outcome{Start: start, Duration: 10 * time.Second}
	for i := range 100 {
		r := vegeta.Result{Code: 200, Timestamp: start.Add(time.Duration(i) * 100 * time.Millisecond), Latency: 100 * time.Millisecond}
		if i%2 == 1 {
			r.Code, r.Latency = 503, time.Duration(i)*time.Millisecond/10
		}
		if i >= 50 && r.Code == 200 {
			r.Latency = 300 * time.Millisecond
		}
		o.Results = append(o.Results, r)
	}
	var b bytes.Buffer
	writePhases(&b, scenarios[3], o, &phases{sustained: 5, sustainedRuns: 50})
	ph := &phases{burstStart: start.Add(5 * time.Second), burstEnd: start.Add(7 * time.Second),
		burst: []vegeta.Result{{Code: 200, Latency: time.Second}, {Code: 503, Latency: time.Millisecond}}}
	writePhases(&b, scenarios[4], o, ph)
	for _, want := range []string{
		"sustained on its own (first half-run, workers always busy, no queue): 50 responses, 5.00 req/s",
		"503s: 50, p50 4.9ms p99 9.9ms max 9.9ms; goodput 5.00 successes/s",
		"vs target: 503 p99 / 50ms = 0.20, goodput / sustained = 1.000 (want >= 0.95), max of 200s / 1s = 0.30",
		"seed 200s before the burst: 25, p50 100.0ms p99 100.0ms max 100.0ms",
		"seed 200s during the burst (2000.0ms): 10, p50 300.0ms p99 300.0ms max 300.0ms",
		"2 AVIF requests at once: codes 200:1 503:1, 200s p50 1000.0ms max 1000.0ms",
		"vs target: seed p99 during / before = 3.00, seed max during / 1s = 0.30",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, b.String())
		}
	}
}

// TestServerSide reads the server's histogram and memory from a real
// imageserver's exposition format.
func TestServerSide(t *testing.T) {
	const exposition = `# TYPE imageserver_http_request_duration_seconds histogram
imageserver_http_request_duration_seconds_bucket{code="200",le="0.005"} 3
imageserver_http_request_duration_seconds_bucket{code="200",le="+Inf"} 5
imageserver_http_request_duration_seconds_sum{code="200"} 1
imageserver_http_request_duration_seconds_count{code="200"} 5
imageserver_http_request_duration_seconds_bucket{code="503",le="0.005"} 7
imageserver_http_request_duration_seconds_bucket{code="503",le="+Inf"} 7
imageserver_http_request_duration_seconds_sum{code="503"} 0.01
imageserver_http_request_duration_seconds_count{code="503"} 7
# TYPE imageserver_cache_bytes gauge
imageserver_cache_bytes 1.41e+08
# TYPE process_resident_memory_bytes gauge
process_resident_memory_bytes 3.52e+08
`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, exposition) }))
	defer srv.Close()
	v, err := serverSide(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := v.histogram(), "<=0.005s: 10, <=+Infs: 12"; got != want {
		t.Errorf("histogram %q, want %q", got, want)
	}
	if v.cacheBytes != 141e6 {
		t.Errorf("cache bytes %g, want 1.41e8", v.cacheBytes)
	}
	if got, want := strings.Join(v.mem, ", "), "imageserver_cache_bytes 141MB, process_resident_memory_bytes 352MB"; got != want {
		t.Errorf("memory %q, want %q", got, want)
	}
}
