package remotewrite

// The fake receiver and the writer set-up that the writer's tests share.

import (
	"context"
	"io"
	"math"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/hostpush/hostpush/internal/batch"
)

// smallBatch is a batch of one counter whose value is i, so delivered
// requests can be told apart.
func smallBatch(at time.Time, i int) *batch.Batch {
	return &batch.Batch{
		Time:     at,
		Grouping: []batch.Label{{Name: "instance", Value: "h1"}},
		Groups:   []batch.Group{{Job: "host-stats", Families: []*dto.MetricFamily{counter("seq_total", float64(i))}}},
	}
}

// receiver is a scripted fake receiver: status(n) answers the n-th
// request (0-based); it records what arrived and when.
type receiver struct {
	mu     sync.Mutex
	status func(n int) (int, []string)
	times  []time.Time
	values []float64 // seq_total value of each accepted request
	stale  []series  // series of accepted stale-marker requests
}

func (r *receiver) Do(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := len(r.times)
	r.times = append(r.times, time.Now())
	code, hdr := r.status(n)
	if code/100 == 2 {
		body, err := io.ReadAll(req.Body)
		if err != nil {
			return nil, err
		}
		ss, err := decodeSnappy(body)
		if err != nil {
			return nil, err
		}
		for _, s := range ss {
			switch {
			case math.Float64bits(s.samples[0].value) == 0x7ff0000000000002:
				r.stale = append(r.stale, s)
			case s.label("__name__") == "seq_total":
				r.values = append(r.values, s.samples[0].value)
			}
		}
	}
	return respond(code, hdr...), nil
}

func (r *receiver) snapshot() ([]time.Time, []float64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.times), slices.Clone(r.values)
}

func testConfig() Config {
	c := DefaultConfig()
	c.URL = "http://receiver.test/api/v1/write"
	c.Name = ""
	c.SetDefaults()
	return c
}

func startWriter(t *testing.T, cfg Config, d doer) (*Writer, *prometheus.Registry) {
	t.Helper()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	w, err := newWriter(cfg, nil, reg, d)
	if err != nil {
		t.Fatal(err)
	}
	return w, reg
}

func down() *receiver {
	return &receiver{status: func(int) (int, []string) { return http.StatusServiceUnavailable, nil }}
}

func accept() *receiver {
	return &receiver{status: func(int) (int, []string) { return http.StatusNoContent, nil }}
}

// recovering is a receiver that answers downStatus until up is set, then
// 204.
func recovering(downStatus int) (rcv *receiver, up *atomic.Bool) {
	up = &atomic.Bool{}
	return &receiver{status: func(int) (int, []string) {
		if up.Load() {
			return http.StatusNoContent, nil
		}
		return downStatus, nil
	}}, up
}

func closeWriter(t *testing.T, w *Writer) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := w.Close(ctx); err != nil {
		t.Errorf("Close: %v", err)
	}
}

func mdur(d time.Duration) modelDuration { return modelDuration(d) }
