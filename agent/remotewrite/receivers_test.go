package remotewrite

// Tests against the real receivers from Debian 12 (victoria-metrics,
// prometheus --web.enable-remote-write-receiver), Prometheus 3 built from
// its module (internal/procs) and, for comparison, the real Pushgateway
// scraped by Prometheus. Each server is started on a free loopback port
// and stopped in t.Cleanup.

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/hostpush/hostpush/internal/batch"
	"github.com/hostpush/hostpush/internal/procs"
)

// server is a receiver the test can stop and start again on the same
// address and data directory.
type server struct {
	t       *testing.T
	kind    string // "victoria-metrics", "prometheus" (Debian's 2.42) or "prometheus3"
	addr    string
	dataDir string
	extra   []string
	scrape  string // Prometheus only: a Pushgateway to scrape with honor_labels
	proc    *procs.Proc
	logs    string
}

func newServer(t *testing.T, kind string, extra ...string) *server {
	t.Helper()
	return newScrapingServer(t, kind, "", extra...)
}

// newScrapingServer starts a Prometheus of kind that also scrapes the
// Pushgateway at gateway (if not empty) every second with honor_labels.
func newScrapingServer(t *testing.T, kind, gateway string, extra ...string) *server {
	t.Helper()
	addr, err := procs.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	s := &server{t: t, kind: kind, addr: addr, dataDir: t.TempDir(), extra: extra, scrape: gateway}
	s.logs = filepath.Join(t.TempDir(), kind+".log")
	t.Cleanup(func() {
		s.stop()
		if t.Failed() {
			b, _ := os.ReadFile(s.logs)
			if len(b) > 3000 {
				b = b[len(b)-3000:]
			}
			t.Logf("%s log tail:\n%s", kind, b)
		}
	})
	s.start()
	return s
}

func (s *server) start() {
	s.t.Helper()
	var bin, ready string
	var args []string
	switch s.kind {
	case "victoria-metrics":
		bin, ready = "victoria-metrics", "/health"
		args = []string{"-storageDataPath=" + s.dataDir, "-httpListenAddr=" + s.addr, "-search.latencyOffset=0s", "-loggerLevel=ERROR"}
	case "prometheus", "prometheus3":
		bin, ready = "prometheus", "/-/ready"
		cfg := filepath.Join(s.dataDir, "prometheus.yml")
		scrape := "scrape_configs: []\n"
		if s.scrape != "" {
			scrape = fmt.Sprintf("scrape_configs:\n- job_name: pushgateway\n  honor_labels: true\n  scrape_interval: 1s\n  static_configs: [{targets: [%q]}]\n", s.scrape)
		}
		os.WriteFile(cfg, []byte(scrape), 0o644)
		args = []string{"--config.file=" + cfg, "--storage.tsdb.path=" + s.dataDir, "--web.listen-address=" + s.addr,
			"--web.enable-remote-write-receiver", "--web.console.templates=" + s.dataDir, "--web.console.libraries=" + s.dataDir,
			"--log.level=warn"}
	}
	path, err := s.binary(bin)
	if err != nil {
		s.t.Fatal(err)
	}
	out, err := os.OpenFile(s.logs, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		s.t.Fatal(err)
	}
	s.proc, err = procs.Start(s.kind, path, append(args, s.extra...), out)
	if err != nil {
		s.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), procs.StartTimeout)
	defer cancel()
	if err := procs.WaitHTTP(ctx, s.proc, "http://"+s.addr+ready); err != nil {
		s.t.Fatalf("%s not ready: %v", s.kind, err)
	}
}

// binary finds the server's executable: Debian's package, or Prometheus 3
// from the cache (built on first use).
func (s *server) binary(bin string) (string, error) {
	if s.kind == "prometheus3" {
		ctx, cancel := context.WithTimeout(context.Background(), 13*time.Minute)
		defer cancel()
		return procs.Prometheus3(ctx, s.t.Logf)
	}
	return procs.LookPath(bin, bin)
}

func (s *server) stop() {
	if s.proc != nil {
		s.proc.Stop(15 * time.Second)
		s.proc = nil
	}
}

func (s *server) writeURL() string { return "http://" + s.addr + "/api/v1/write" }

func (s *server) get(path string, q url.Values) []byte {
	s.t.Helper()
	resp, err := http.Get("http://" + s.addr + path + "?" + q.Encode())
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		s.t.Fatalf("GET %s: %s: %s", path, resp.Status, b)
	}
	return b
}

// samples returns every stored sample of the series matching selector:
// label set -> timestamps (ms), in storage order, duplicates kept where
// the receiver keeps them.
func (s *server) samples(selector string) map[string][]int64 {
	s.t.Helper()
	out := map[string][]int64{}
	switch s.kind {
	case "victoria-metrics":
		s.get("/internal/force_flush", nil)
		body := s.get("/api/v1/export", url.Values{"match[]": {selector}})
		dec := json.NewDecoder(bytes.NewReader(body))
		for dec.More() {
			var line struct {
				Metric     map[string]string `json:"metric"`
				Timestamps []int64           `json:"timestamps"`
			}
			if err := dec.Decode(&line); err != nil {
				s.t.Fatal(err)
			}
			k := labelKey(line.Metric)
			out[k] = append(out[k], line.Timestamps...)
		}
	case "prometheus", "prometheus3":
		body := s.get("/api/v1/query", url.Values{"query": {selector + "[1h]"}})
		var r struct {
			Data struct {
				Result []struct {
					Metric map[string]string `json:"metric"`
					Values [][2]any          `json:"values"`
				} `json:"result"`
			} `json:"data"`
		}
		if err := json.Unmarshal(body, &r); err != nil {
			s.t.Fatal(err)
		}
		for _, res := range r.Data.Result {
			k := labelKey(res.Metric)
			for _, v := range res.Values {
				out[k] = append(out[k], int64(v[0].(float64)*1000+0.5))
			}
		}
	}
	return out
}

// series returns the label sets matching selector through the Prometheus
// HTTP API, which both receivers serve, as sorted labelKey strings.
func (s *server) series(selector string) []string {
	s.t.Helper()
	var out []string
	for _, m := range s.seriesSets(selector) {
		out = append(out, labelKey(m))
	}
	sort.Strings(out)
	return slices.Compact(out)
}

// seriesSets returns the label sets matching selector, stored in the last
// hour.
func (s *server) seriesSets(selector string) []map[string]string {
	s.t.Helper()
	if s.kind == "victoria-metrics" {
		s.get("/internal/force_flush", nil)
	}
	body := s.get("/api/v1/series", url.Values{"match[]": {selector}, "start": {fmt.Sprint(time.Now().Add(-time.Hour).Unix())}})
	var r struct{ Data []map[string]string }
	if err := json.Unmarshal(body, &r); err != nil {
		s.t.Fatal(err)
	}
	return r.Data
}

func labelKey(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%q,", k, m[k])
	}
	return b.String()
}

// outage describes one outage test run.
type outage struct {
	receiver  string
	disk      bool // disk buffer, and restart the Writer in mid-outage
	interval  time.Duration
	before    time.Duration
	down      time.Duration
	after     time.Duration
	maxBuffer int
}

// TestOutage pushes a real gather every 100 ms, stops the receiver for
// several seconds, starts it again and checks every sample arrived exactly
// once while the buffer stayed within its bound. With the disk buffer the
// Writer is also closed and replaced in mid-outage, as a hostpush restart
// would.
var outageDown = flag.Duration("outage", 10*time.Second, "how long TestOutage keeps the receiver down (pushes every 100 ms); make test uses the default, try -outage=3m for the few-minute version")

func TestOutage(t *testing.T) {
	t.Parallel()
	for _, tc := range []outage{
		{receiver: "victoria-metrics"},
		{receiver: "victoria-metrics", disk: true},
		{receiver: "prometheus"},
	} {
		name := tc.receiver
		if tc.disk {
			name += "/disk-buffer-and-restart"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			tc.interval, tc.before, tc.down, tc.after = 100*time.Millisecond, 3*time.Second, *outageDown, 4*time.Second
			// the bound holds the whole outage, so nothing may be dropped
			tc.maxBuffer = int(tc.down/tc.interval)*2 + 100
			runOutage(t, tc)
		})
	}
}

func runOutage(t *testing.T, tc outage) {
	srv := newServer(t, tc.receiver)
	instance := fmt.Sprintf("outage-%d", time.Now().UnixNano())
	cfg := testConfig()
	cfg.URL = srv.writeURL()
	cfg.MinBackoff, cfg.MaxBackoff = mdur(100*time.Millisecond), mdur(time.Second)
	cfg.MaxReplayRate = 100
	cfg.Timeout = mdur(5 * time.Second)
	cfg.Buffer.MaxBatches = tc.maxBuffer
	cfg.Buffer.MaxBytes = ByteSize(tc.maxBuffer) * 16 << 10 // a gather is about 12 KiB; the batch bound applies first
	if tc.disk {
		cfg.Buffer.StoragePath = t.TempDir()
	}
	fams := loadGather(t)
	perBatch := batch.CountSeries(fams)

	var (
		mu         sync.Mutex
		w          *Writer
		writers    []*Writer
		sentTimes  []int64
		outageFrom int64
		outageTo   int64
		peakB      float64
		peakBytes  float64
	)
	newW := func() { // with mu held
		nw, err := New(cfg, nil, prometheus.NewRegistry())
		if err != nil {
			t.Fatal(err)
		}
		w = nw
		writers = append(writers, nw)
	}
	mu.Lock()
	newW()
	mu.Unlock()
	stopProducer := make(chan struct{})
	producerDone := make(chan struct{})
	go func() {
		defer close(producerDone)
		tick := time.NewTicker(tc.interval)
		defer tick.Stop()
		for {
			select {
			case <-stopProducer:
				return
			case <-tick.C:
			}
			at := time.Now().Truncate(time.Millisecond)
			b := &batch.Batch{Time: at, Grouping: []batch.Label{{Name: "instance", Value: instance}},
				Groups: []batch.Group{{Job: "host-stats", Families: fams}}}
			// Hold mu across Send: a restart (Close, New) happens between
			// two Sends, as in hostpush, never during one.
			mu.Lock()
			cur := w
			if err := cur.Send(context.Background(), b); err != nil {
				mu.Unlock()
				t.Errorf("Send: %v", err)
				continue
			}
			sentTimes = append(sentTimes, at.UnixMilli())
			peakB = max(peakB, testutil.ToFloat64(cur.m.batches))
			peakBytes = max(peakBytes, testutil.ToFloat64(cur.m.bytes))
			mu.Unlock()
		}
	}()

	time.Sleep(tc.before)
	srv.stop()
	mu.Lock()
	outageFrom = time.Now().UnixMilli()
	mu.Unlock()
	time.Sleep(tc.down / 2)
	if tc.disk {
		// hostpush restarts in the middle of the outage.
		mu.Lock()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		if err := w.Close(ctx); err != nil {
			t.Errorf("closing the Writer during the outage: %v (the disk buffer must keep everything)", err)
		}
		cancel()
		newW()
		mu.Unlock()
	}
	time.Sleep(tc.down / 2)
	srv.start()
	mu.Lock()
	outageTo = time.Now().UnixMilli()
	mu.Unlock()
	time.Sleep(tc.after)
	close(stopProducer)
	<-producerDone

	drain := 30*time.Second + tc.down/5 // replay runs at up to 100 batches/s, 10 times the push rate
	for deadline := time.Now().Add(drain); testutil.ToFloat64(w.m.batches) > 0; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("buffer still holds %v batches %s after the pushes stopped", testutil.ToFloat64(w.m.batches), drain)
		}
	}
	closeWriter(t, w)

	var sent, dropped, retries float64
	for _, x := range writers {
		sent += testutil.ToFloat64(x.m.sent)
		retries += testutil.ToFloat64(x.m.retries)
		for _, r := range []string{dropBufferFull, dropRejected, dropTooLarge, dropCorrupt, dropShutdown} {
			dropped += testutil.ToFloat64(x.m.dropped.WithLabelValues(r))
		}
	}
	want := len(sentTimes) * perBatch
	if int(sent) != want || dropped != 0 {
		t.Errorf("samples_sent_total %v (dropped %v), want exactly %d: every batch once", sent, dropped, want)
	}
	if peakB > float64(tc.maxBuffer) {
		t.Errorf("buffer reached %v batches, bound %d", peakB, tc.maxBuffer)
	}

	inOutage := 0
	for _, ts := range sentTimes {
		if ts >= outageFrom && ts <= outageTo {
			inOutage++
		}
	}
	// Receivers make accepted samples searchable after a short delay
	// (VictoriaMetrics flushes its in-memory rows about every second), so
	// look again for a few seconds before calling a sample missing.
	var got map[string][]int64
	var missing, dups int
	var firstMissing []string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(500 * time.Millisecond) {
		got = srv.samples(fmt.Sprintf(`{instance=%q}`, instance))
		missing, dups, firstMissing = checkSamples(got, sentTimes)
		if (missing == 0 && len(got) == perBatch) || time.Now().After(deadline) {
			break
		}
	}
	if len(got) != perBatch {
		t.Errorf("%s holds %d series for the instance, want %d", tc.receiver, len(got), perBatch)
	}
	// The buffer holds the outage's backlog and nothing more: sent
	// batches leave it (allow 3 s of pushes for the receiver's restart).
	if slack := int(3 * time.Second / tc.interval); peakB > float64(inOutage+slack) {
		t.Errorf("buffer peaked at %v batches for an outage of %d batches", peakB, inOutage)
	}
	for _, m := range firstMissing {
		t.Errorf("missing: %s (outage %d..%d)", m, outageFrom, outageTo)
	}
	if missing != 0 || dups != 0 {
		t.Errorf("%s: %d samples missing, %d duplicated", tc.receiver, missing, dups)
	}
	t.Logf("%s disk=%v: %d batches x %d series sent (%d batches = %d samples during the %.1fs outage); stored %d series, missing %d, duplicates %d; peak buffer %v batches / %.0f KiB; %v retries; %d Writer(s)",
		tc.receiver, tc.disk, len(sentTimes), perBatch, inOutage, inOutage*perBatch, float64(outageTo-outageFrom)/1000,
		len(got), missing, dups, peakB, peakBytes/1024, retries, len(writers))
}

// checkSamples counts, over all series, the sent timestamps not stored and
// those stored more than once.
func checkSamples(got map[string][]int64, sentTimes []int64) (missing, dups int, examples []string) {
	for k, stored := range got {
		seen := map[int64]int{}
		for _, ts := range stored {
			seen[ts]++
		}
		for _, ts := range sentTimes {
			if seen[ts] == 0 {
				missing++
				if len(examples) < 2 {
					examples = append(examples, fmt.Sprintf("%s@%d", k, ts))
				}
			}
		}
		dups += len(stored) - len(seen)
	}
	return missing, dups, examples
}
