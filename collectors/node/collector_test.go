package node

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

var testDesc = prometheus.NewDesc("node_test_value", "test", nil, nil)

// fakeUpdater sends one gauge with an increasing value, optionally after
// blocking on a channel.
type fakeUpdater struct {
	calls atomic.Int64
	block chan struct{} // nil: return at once
	err   error
}

func (f *fakeUpdater) Update(ch chan<- prometheus.Metric) error {
	n := f.calls.Add(1)
	if f.block != nil {
		<-f.block
	}
	ch <- prometheus.MustNewConstMetric(testDesc, prometheus.GaugeValue, float64(n))
	return f.err
}

// gather collects once and returns, per collector label, success and the
// number of node_test_value samples with their value.
type outcome struct {
	success float64
	values  []float64
}

func gather(t *testing.T, c *Collector) map[string]outcome {
	t.Helper()
	ch := make(chan prometheus.Metric)
	go func() { c.Collect(ch); close(ch) }()
	out := map[string]outcome{}
	var values []float64
	for m := range ch {
		var pb dto.Metric
		if err := m.Write(&pb); err != nil {
			t.Fatal(err)
		}
		switch m.Desc() {
		case successDesc:
			name := pb.GetLabel()[0].GetValue()
			o := out[name]
			o.success = pb.GetGauge().GetValue()
			out[name] = o
		case testDesc:
			values = append(values, pb.GetGauge().GetValue())
		}
	}
	o := out["fast"]
	o.values = values
	out["fast"] = o
	return out
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// testCollector is newCollector, closed when the test ends: inside a
// synctest bubble its home runner must be gone by then.
func testCollector(t *testing.T, timeout time.Duration, intervals map[string]time.Duration, updaters map[string]Updater) *Collector {
	t.Helper()
	c := newCollector(quiet(), timeout, intervals, updaters)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := c.Close(ctx); err != nil {
			t.Error(err)
		}
	})
	return c
}

// goroutineUpdater records the goroutine each Update runs on.
type goroutineUpdater struct{ ids []string }

func (g *goroutineUpdater) Update(chan<- prometheus.Metric) error {
	buf := make([]byte, 64)
	buf = buf[:runtime.Stack(buf, false)]
	id, _, _ := strings.Cut(strings.TrimPrefix(string(buf), "goroutine "), " ")
	g.ids = append(g.ids, id)
	return nil
}

// The collectors run on one goroutine that lives across gathers, so the
// stack they grew is kept rather than grown again on a fresh goroutine
// every gather; one still held by a hung collector is not waited for.
func TestGathersShareTheHomeRunner(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := &goroutineUpdater{}
		c := testCollector(t, time.Second, nil, map[string]Updater{"g": g})
		for range 3 {
			gather(t, c)
			synctest.Wait() // the home runner is back waiting for a pass
		}
		if len(g.ids) != 3 || g.ids[0] != g.ids[1] || g.ids[1] != g.ids[2] {
			t.Fatalf("Update ran on goroutines %v, want the same one for every gather", g.ids)
		}
	})
}

func TestCloseWaitsForTheHomeRunner(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hang := &fakeUpdater{block: make(chan struct{})}
		c := newCollector(quiet(), time.Second, nil, map[string]Updater{"hang": hang})
		gather(t, c)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := c.Close(ctx); err == nil {
			t.Fatal("Close returned nil while a collector still ran on the home runner")
		}
		close(hang.block)
		if err := c.Close(context.Background()); err != nil {
			t.Fatalf("Close after the collector returned: %v", err)
		}
	})
}

func TestHangingCollectorMissesDeadlineOthersArePushed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hang := &fakeUpdater{block: make(chan struct{})}
		fast := &fakeUpdater{}
		c := testCollector(t, 2*time.Second, nil, map[string]Updater{"hang": hang, "fast": fast})

		start := time.Now()
		got := gather(t, c)
		if d := time.Since(start); d != 2*time.Second {
			t.Errorf("gather took %s of fake time, want exactly the 2s deadline", d)
		}
		if got["hang"].success != 0 || got["fast"].success != 1 || len(got["fast"].values) != 1 {
			t.Fatalf("first gather: %+v", got)
		}

		// The hung run is still in flight: it must not be started again,
		// and the gather must not wait for it.
		start = time.Now()
		got = gather(t, c)
		if d := time.Since(start); d != 0 {
			t.Errorf("second gather waited %s for a collector known to be in flight", d)
		}
		if got["hang"].success != 0 || hang.calls.Load() != 1 {
			t.Fatalf("in-flight collector: success %v, calls %d; want 0 and 1", got["hang"].success, hang.calls.Load())
		}

		// Once it returns, the next gather runs it again.
		close(hang.block)
		synctest.Wait()
		hang.block = nil
		got = gather(t, c)
		if got["hang"].success != 1 || hang.calls.Load() != 2 {
			t.Fatalf("after recovery: success %v, calls %d; want 1 and 2", got["hang"].success, hang.calls.Load())
		}
	})
}

func TestFailingCollectorReportsZero(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := testCollector(t, time.Second, nil, map[string]Updater{
			"bad": &fakeUpdater{err: errors.New("boom")}, "fast": &fakeUpdater{},
		})
		got := gather(t, c)
		if got["bad"].success != 0 || got["fast"].success != 1 {
			t.Fatalf("got %+v", got)
		}
	})
}

func TestIntervalReusesLastValues(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fast := &fakeUpdater{}
		c := testCollector(t, time.Second, map[string]time.Duration{"fast": 30 * time.Second}, map[string]Updater{"fast": fast})
		var seen []float64
		for range 7 { // ticks at 0, 5, ..., 30 s
			got := gather(t, c)
			seen = append(seen, got["fast"].values...)
			time.Sleep(5 * time.Second)
		}
		want := []float64{1, 1, 1, 1, 1, 1, 2}
		if len(seen) != len(want) {
			t.Fatalf("values %v, want %v", seen, want)
		}
		for i := range want {
			if seen[i] != want[i] {
				t.Fatalf("values %v, want %v: the collector must run only every 30s and its last values be sent in between", seen, want)
			}
		}
		if fast.calls.Load() != 2 {
			t.Errorf("collector ran %d times in 30s with a 30s interval, want 2", fast.calls.Load())
		}
	})
}

// The collectors run one after another; one that blocks must not hold
// back those after it: the gather starts another runner for them.
func TestBlockingCollectorFirstDoesNotHoldBackTheRest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		block := &fakeUpdater{block: make(chan struct{})}
		fast := &fakeUpdater{}
		// "a_block" sorts before "fast", so it runs first.
		c := testCollector(t, 2*time.Second, nil, map[string]Updater{"a_block": block, "fast": fast})
		got := gather(t, c)
		if got["a_block"].success != 0 || got["fast"].success != 1 || len(got["fast"].values) != 1 {
			t.Fatalf("got %+v; want a_block failed, fast pushed", got)
		}
		close(block.block)
		synctest.Wait()
	})
}

// A gather whose deadline passes before a collector could start reports
// it as failed and does not run it later; the next gather runs it.
func TestCollectorNotStartedByTheDeadlineIsFailedAndRunsNextTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		block := &fakeUpdater{block: make(chan struct{})}
		later := &fakeUpdater{}
		c := testCollector(t, 10*time.Millisecond, nil, map[string]Updater{"a_block": block, "later": later})
		c.stall = time.Hour // no second runner before the deadline
		got := gather(t, c)
		if got["a_block"].success != 0 || got["later"].success != 0 || later.calls.Load() != 0 {
			t.Fatalf("got %+v, later ran %d times; want both failed and later never started", got, later.calls.Load())
		}
		close(block.block)
		synctest.Wait()
		block.block = nil
		got = gather(t, c)
		if got["a_block"].success != 1 || got["later"].success != 1 || later.calls.Load() != 1 {
			t.Fatalf("second gather: %+v, later ran %d times; want both ok, later once", got, later.calls.Load())
		}
	})
}
