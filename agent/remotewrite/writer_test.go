package remotewrite

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/proto"

	"github.com/hostpush/hostpush/internal/batch"
)

func TestBackoffDoublesCappedJittered(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := testConfig()
		cfg.MinBackoff, cfg.MaxBackoff = mdur(time.Second), mdur(6*time.Second)
		const failures = 7
		rcv := &receiver{status: func(n int) (int, []string) {
			if n < failures {
				return http.StatusServiceUnavailable, nil
			}
			return http.StatusNoContent, nil
		}}
		w, _ := startWriter(t, cfg, rcv)
		if err := w.Send(t.Context(), smallBatch(time.Now(), 1)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Minute)
		times, values := rcv.snapshot()
		if len(times) != failures+1 || !slices.Equal(values, []float64{1}) {
			t.Fatalf("want %d attempts and one delivery, got %d attempts, values %v", failures+1, len(times), values)
		}
		for i := 1; i < len(times); i++ {
			d := min(time.Second<<(i-1), 6*time.Second)
			if gap := times[i].Sub(times[i-1]); gap < d/2 || gap > d {
				t.Errorf("wait before attempt %d: %v, want within [%v, %v]", i, gap, d/2, d)
			}
		}
		if got := testutil.ToFloat64(w.m.retries); got != failures {
			t.Errorf("retries_total %v, want %d", got, failures)
		}
		closeWriter(t, w)
	})
}

func TestRetryAfterHonoured(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := testConfig()
		cfg.MinBackoff, cfg.MaxBackoff = mdur(100*time.Millisecond), mdur(time.Second)
		start := time.Now()
		rcv := &receiver{status: func(n int) (int, []string) {
			switch n {
			case 0:
				return http.StatusTooManyRequests, []string{"Retry-After", "7"}
			case 1: // an HTTP date 3 s after the second attempt (at start+7s)
				return http.StatusServiceUnavailable, []string{"Retry-After", start.Add(10 * time.Second).UTC().Format(http.TimeFormat)}
			}
			return http.StatusNoContent, nil
		}}
		w, _ := startWriter(t, cfg, rcv)
		w.Send(t.Context(), smallBatch(time.Now(), 1))
		time.Sleep(time.Minute)
		times, values := rcv.snapshot()
		if len(times) != 3 || len(values) != 1 {
			t.Fatalf("attempts %d deliveries %d, want 3 and 1", len(times), len(values))
		}
		if g1, g2 := times[1].Sub(times[0]), times[2].Sub(times[1]); g1 != 7*time.Second || g2 != 3*time.Second {
			t.Errorf("waits %v and %v, want 7s (Retry-After: 7) and 3s (Retry-After: date); max_backoff 1s must not cut them", g1, g2)
		}
		closeWriter(t, w)
	})
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{
		{"", 0}, {"0", 0}, {"12", 12 * time.Second}, {"-3", 0}, {"soon", 0},
		{"99999", maxRetryAfter},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0},
	} {
		if got := parseRetryAfter(tc.in, now); got != tc.want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestClientErrorDroppedNotRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rcv := &receiver{status: func(n int) (int, []string) {
			if n == 0 {
				return http.StatusBadRequest, nil
			}
			return http.StatusNoContent, nil
		}}
		w, _ := startWriter(t, testConfig(), rcv)
		w.Send(t.Context(), smallBatch(time.Now(), 1))
		synctest.Wait()
		w.Send(t.Context(), smallBatch(time.Now(), 2))
		time.Sleep(10 * time.Second)
		times, values := rcv.snapshot()
		if len(times) != 2 || !slices.Equal(values, []float64{2}) {
			t.Fatalf("attempts %d values %v, want 2 attempts and only batch 2 delivered", len(times), values)
		}
		for name, c := range map[string]prometheus.Collector{
			"samples_failed_total": w.m.failed, "samples_dropped_total{rejected}": w.m.dropped.WithLabelValues(dropRejected),
			"samples_sent_total": w.m.sent,
		} {
			if got := testutil.ToFloat64(c); got != 1 {
				t.Errorf("%s = %v, want 1", name, got)
			}
		}
		if got := testutil.ToFloat64(w.m.retries); got != 0 {
			t.Errorf("retries_total = %v, want 0", got)
		}
		closeWriter(t, w)
	})
}

// TestBufferBoundsDropOldest fills the buffer while the receiver is down
// and checks that the newest batches survive, in order, and the rest is
// counted.
func TestBufferBoundsDropOldest(t *testing.T) {
	for _, tc := range []struct {
		name       string
		maxBatches int
		maxBytes   ByteSize
		big        bool
	}{
		{name: "max_batches", maxBatches: 4, maxBytes: DefaultMaxBytes},
		{name: "max_bytes", maxBytes: minMaxBytes, big: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				cfg := testConfig()
				cfg.Buffer.MaxBatches, cfg.Buffer.MaxBytes = tc.maxBatches, tc.maxBytes
				cfg.MinBackoff, cfg.MaxBackoff = mdur(time.Second), mdur(time.Second)
				rcv, up := recovering(http.StatusBadGateway)
				w, _ := startWriter(t, cfg, rcv)
				const n = 30
				var sizes []int64
				for i := range n {
					b := smallBatch(time.Now(), i)
					if tc.big {
						b.Groups = append(b.Groups, testBatch(t, time.Now(), "h1").Groups...)
					}
					if err := w.Send(t.Context(), b); err != nil {
						t.Fatal(err)
					}
					w.mu.Lock()
					sizes = append(sizes, w.queue[len(w.queue)-1].size)
					w.mu.Unlock()
					time.Sleep(100 * time.Millisecond)
				}
				// What must survive: the newest batches that fit both bounds.
				keep, total := 0, int64(0)
				for i := n - 1; i >= 0 && (tc.maxBatches == 0 || keep < tc.maxBatches) && total+sizes[i] <= int64(tc.maxBytes); i-- {
					keep++
					total += sizes[i]
				}
				if got := testutil.ToFloat64(w.m.batches); int(got) != keep {
					t.Errorf("buffer_batches %v, want %d", got, keep)
				}
				if got := testutil.ToFloat64(w.m.bytes); int64(got) != total || total > int64(tc.maxBytes) {
					t.Errorf("buffer_bytes %v, want %d (bound %d)", got, total, tc.maxBytes)
				}
				perBatch := float64(1)
				if tc.big {
					perBatch += float64(testBatch(t, time.Now(), "h1").Series())
				}
				if got, want := testutil.ToFloat64(w.m.dropped.WithLabelValues(dropBufferFull)), float64(n-keep)*perBatch; got != want {
					t.Errorf("dropped{buffer_full} %v, want %v", got, want)
				}
				up.Store(true)
				time.Sleep(time.Minute)
				_, values := rcv.snapshot()
				seqs := values
				var want []float64
				for i := n - keep; i < n; i++ {
					want = append(want, float64(i))
				}
				if !slices.Equal(seqs, want) {
					t.Errorf("delivered batches %v, want the newest %v oldest first", seqs, want)
				}
				closeWriter(t, w)
			})
		})
	}
}

// TestReplayRateBounded checks the backlog after an outage goes out oldest
// first and no faster than max_replay_rate.
func TestReplayRateBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := testConfig()
		cfg.MaxReplayRate = 4
		cfg.MinBackoff, cfg.MaxBackoff = mdur(time.Second), mdur(time.Second)
		rcv, up := recovering(http.StatusServiceUnavailable)
		w, _ := startWriter(t, cfg, rcv)
		for i := range 12 {
			w.Send(t.Context(), smallBatch(time.Now(), i))
			time.Sleep(500 * time.Millisecond)
		}
		up.Store(true)
		before, _ := rcv.snapshot()
		time.Sleep(30 * time.Second)
		times, values := rcv.snapshot()
		if !slices.Equal(values, []float64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}) {
			t.Fatalf("delivered %v, want 0..11 in order", values)
		}
		replay := times[len(before)-1:]
		for i := 1; i < len(replay); i++ {
			if gap := replay[i].Sub(replay[i-1]); gap < 250*time.Millisecond {
				t.Errorf("requests %v apart, faster than max_replay_rate 4/s", gap)
			}
		}
		closeWriter(t, w)
	})
}

func TestCloseFinalTry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := testConfig()
		cfg.MinBackoff, cfg.MaxBackoff = mdur(time.Hour), mdur(time.Hour)
		rcv, up := recovering(http.StatusServiceUnavailable)
		w, _ := startWriter(t, cfg, rcv)
		for i := range 3 {
			w.Send(t.Context(), smallBatch(time.Now(), i))
		}
		synctest.Wait() // the writer now sleeps an hour of backoff
		up.Store(true)
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
		defer cancel()
		start := time.Now()
		if err := w.Close(ctx); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if d := time.Since(start); d != 0 {
			t.Errorf("Close waited %v for the backoff; the final try must not", d)
		}
		if _, values := rcv.snapshot(); !slices.Equal(values, []float64{0, 1, 2}) {
			t.Errorf("final try delivered %v, want [0 1 2]", values)
		}
		if len(rcv.stale) != 1 {
			t.Errorf("final try sent %d stale markers, want 1 for the one series, after the buffer", len(rcv.stale))
		}
		if err := w.Send(t.Context(), smallBatch(time.Now(), 9)); !errors.Is(err, ErrClosed) {
			t.Errorf("Send after Close: %v, want ErrClosed", err)
		}
	})
}

func TestCloseBoundedWhenReceiverHangs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := testConfig()
		cfg.Timeout = mdur(time.Minute)
		hang := doerFunc(func(r *http.Request) (*http.Response, error) {
			<-r.Context().Done()
			return nil, r.Context().Err()
		})
		w, _ := startWriter(t, cfg, hang)
		start := time.Now()
		if err := w.Send(t.Context(), smallBatch(time.Now(), 1)); err != nil {
			t.Fatal(err)
		}
		if time.Since(start) != 0 {
			t.Error("Send blocked on the hanging receiver")
		}
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
		defer cancel()
		err := w.Close(ctx)
		if d := time.Since(start); d != 2*time.Second {
			t.Errorf("Close took %v, want the 2s its context allows", d)
		}
		if err == nil || !strings.Contains(err.Error(), "1 batches (1 samples) not delivered") {
			t.Errorf("Close error %v, want it to report the lost batch", err)
		}
		if got := testutil.ToFloat64(w.m.dropped.WithLabelValues(dropShutdown)); got != 1 {
			t.Errorf("dropped{shutdown} %v, want 1", got)
		}
	})
}

func TestSendTooLarge(t *testing.T) {
	cfg := testConfig()
	cfg.Buffer.MaxBytes = minMaxBytes
	w, _ := startWriter(t, cfg, doerFunc(func(*http.Request) (*http.Response, error) { return respond(204), nil }))
	defer closeWriter(t, w)
	f := &dto.MetricFamily{Name: proto.String("x"), Type: dto.MetricType_GAUGE.Enum()}
	for i := range 20000 {
		f.Metric = append(f.Metric, &dto.Metric{Gauge: &dto.Gauge{Value: proto.Float64(float64(i) * 1.37)},
			Label: []*dto.LabelPair{{Name: proto.String("id"), Value: proto.String(strings.Repeat(string(rune('a'+i%26)), 1+i%7) + time.Duration(i*7919).String())}}})
	}
	b := &batch.Batch{Time: time.Now(), Groups: []batch.Group{{Job: "j", Families: []*dto.MetricFamily{f}}}}
	err := w.Send(t.Context(), b)
	if err == nil || !strings.Contains(err.Error(), "exceeds buffer.max_bytes") {
		t.Fatalf("Send: %v, want a too-large error", err)
	}
	if got := testutil.ToFloat64(w.m.dropped.WithLabelValues(dropTooLarge)); got != 20000 {
		t.Errorf("dropped{too_large} %v, want 20000", got)
	}
}

// TestHTTP runs the real HTTP client against httptest fakes for what a
// real receiver cannot do on demand: answer 503, then 429, then accept;
// and check the Remote-Write headers on the wire.
func TestHTTP(t *testing.T) {
	var calls atomic.Int32
	got := make(chan []series, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		switch calls.Add(1) {
		case 1:
			http.Error(rw, "overloaded", http.StatusServiceUnavailable)
			return
		case 2:
			rw.Header().Set("Retry-After", "0")
			http.Error(rw, "slow down", http.StatusTooManyRequests)
			return
		}
		for h, want := range map[string]string{"Content-Encoding": "snappy", "Content-Type": "application/x-protobuf", "X-Prometheus-Remote-Write-Version": "0.1.0"} {
			if r.Header.Get(h) != want || r.Method != http.MethodPost {
				t.Errorf("%s %s: header %s = %q, want %q", r.Method, r.URL, h, r.Header.Get(h), want)
			}
		}
		body, _ := io.ReadAll(r.Body)
		ss, err := decodeSnappy(body)
		if err != nil {
			t.Error(err)
		}
		got <- ss
		rw.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	cfg := testConfig()
	cfg.URL = srv.URL + "/api/v1/write"
	cfg.MinBackoff, cfg.MaxBackoff = mdur(10*time.Millisecond), mdur(20*time.Millisecond)
	w, err := New(cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer closeWriter(t, w)
	b := testBatch(t, time.Now(), "h1")
	if err := w.Send(t.Context(), b); err != nil {
		t.Fatal(err)
	}
	select {
	case ss := <-got:
		if len(ss) != b.Series() {
			t.Errorf("receiver got %d series, want %d", len(ss), b.Series())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("batch not delivered after 503 and 429")
	}
	if r := testutil.ToFloat64(w.m.retries); r != 2 {
		t.Errorf("retries_total %v, want 2", r)
	}
}

// TestHTTPHang: a receiver that never answers costs one timeout per try
// and never blocks Send or Close beyond its context.
func TestHTTPHang(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	cfg := testConfig()
	cfg.URL = srv.URL
	cfg.Timeout = mdur(100 * time.Millisecond)
	cfg.MinBackoff, cfg.MaxBackoff = mdur(10*time.Millisecond), mdur(10*time.Millisecond)
	w, err := New(cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	w.Send(t.Context(), smallBatch(time.Now(), 1))
	for testutil.ToFloat64(w.m.retries) < 2 {
		time.Sleep(20 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	if err := w.Close(ctx); err == nil {
		t.Error("Close reported no loss although the receiver never answered")
	}
}

// TestBufferedBodyIsExact guards the memory bound: the buffer counts each
// batch's length, so the batch must not hold a larger allocation (snappy
// needs about 7x the compressed size of scratch space for a gather).
func TestBufferedBodyIsExact(t *testing.T) {
	w, _ := startWriter(t, testConfig(), doerFunc(func(*http.Request) (*http.Response, error) { return respond(503), nil }))
	if err := w.Send(t.Context(), testBatch(t, time.Now(), "h1")); err != nil {
		t.Fatal(err)
	}
	w.mu.Lock()
	body := w.queue[0].body
	w.mu.Unlock()
	if cap(body) > len(body)*9/8+1024 { // allow the allocator's size-class rounding
		t.Errorf("buffered body holds %d bytes of memory for %d counted", cap(body), len(body))
	}
	ctx, cancel := timeout(t, 100*time.Millisecond)
	defer cancel()
	w.Close(ctx)
}
