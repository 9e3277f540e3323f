package agent

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/hostpush/hostpush/internal/batch"
)

// recSender records sends; it can fail or take time.
type recSender struct {
	mu      sync.Mutex
	name    string
	sends   []time.Time
	delay   time.Duration
	wedge   chan struct{} // non-nil: Send blocks on it, ignoring ctx
	err     error
	closed  int
	lastJob string
}

func (s *recSender) Name() string { return s.name }

func (s *recSender) Send(ctx context.Context, b *batch.Batch) error {
	s.mu.Lock()
	s.sends = append(s.sends, time.Now())
	s.lastJob = b.Groups[0].Job
	delay, err, wedge := s.delay, s.err, s.wedge
	s.mu.Unlock()
	if wedge != nil {
		<-wedge
	}
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return err
}

func (s *recSender) Close(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed++
	return nil
}

func (s *recSender) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sends)
}

// recNotifier records sd_notify states.
type recNotifier struct {
	mu     sync.Mutex
	states []string
}

func (n *recNotifier) Notify(s string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.states = append(n.states, s)
	return nil
}

func (n *recNotifier) has(prefix string) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	c := 0
	for _, s := range n.states {
		if strings.HasPrefix(s, prefix) {
			c++
		}
	}
	return c
}

func (n *recNotifier) last(prefix string) string {
	n.mu.Lock()
	defer n.mu.Unlock()
	for i := len(n.states) - 1; i >= 0; i-- {
		if strings.HasPrefix(n.states[i], prefix) {
			return n.states[i]
		}
	}
	return ""
}

func newTestLoop(s *recSender, n *recNotifier, wd time.Duration) (*Loop, *Metrics, *prometheus.Registry) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	l := New(Config{
		Settings: Settings{Interval: 5 * time.Second, Timeout: 2 * time.Second, Job: "host-stats",
			Grouping: []batch.Label{{Name: "instance", Value: "h1"}}, Senders: []batch.Sender{s}},
		Host: reg, Metrics: m, Notifier: n, Watchdog: wd,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	return l, m, reg
}

func TestLoopTicksOnCadence(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, n := &recSender{name: "s"}, &recNotifier{}
		l, _, _ := newTestLoop(s, n, 0)
		ctx, cancel := context.WithCancel(t.Context())
		go func() { time.Sleep(22 * time.Second); cancel() }()
		start := time.Now()
		if err := l.Run(ctx); err != nil {
			t.Fatal(err)
		}
		// ticks at 0, 5, 10, 15, 20 s
		if s.count() != 5 {
			t.Fatalf("sent %d times in 22s at 5s, want 5", s.count())
		}
		for i, at := range s.sends {
			if want := time.Duration(i) * 5 * time.Second; at.Sub(start) != want {
				t.Errorf("send %d at %s, want %s", i, at.Sub(start), want)
			}
		}
		if s.lastJob != "host-stats" {
			t.Errorf("job %q", s.lastJob)
		}
		if n.has("READY=1") != 1 || n.has("STOPPING=1") != 1 || s.closed != 1 {
			t.Errorf("READY %d, STOPPING %d, closed %d; want 1 each", n.has("READY=1"), n.has("STOPPING=1"), s.closed)
		}
	})
}

func TestSlowPushSkipsTicksAndCountsThem(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// A send that takes 12s (its timeout is larger here) covers two
		// ticks; they are skipped, never run concurrently.
		s, n := &recSender{name: "s", delay: 12 * time.Second}, &recNotifier{}
		l, m, _ := newTestLoop(s, n, 0)
		l.cfg.Timeout = time.Minute
		ctx, cancel := context.WithCancel(t.Context())
		go func() { time.Sleep(27 * time.Second); cancel() }()
		_ = l.Run(ctx)
		// cycles start at 0 (ends 12), 15 (ends 27); ticks at 5, 10, 20, 25 skipped
		if got := testutil.ToFloat64(m.skipped); got != 4 {
			t.Errorf("skipped ticks = %v, want 4", got)
		}
		for i := 1; i < len(s.sends); i++ {
			if gap := s.sends[i].Sub(s.sends[i-1]); gap < 12*time.Second {
				t.Errorf("sends overlapped: %s apart", gap)
			}
		}
	})
}

func TestFailuresCountedAndStatusSaysSince(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, n := &recSender{name: "gw", err: errors.New("connection refused")}, &recNotifier{}
		l, m, _ := newTestLoop(s, n, 0)
		ctx, cancel := context.WithCancel(t.Context())
		go func() {
			time.Sleep(11 * time.Second) // 3 failures at 0, 5, 10
			s.mu.Lock()
			s.err = nil
			s.mu.Unlock()
			time.Sleep(5 * time.Second) // success at 15
			cancel()
		}()
		statusC := make(chan string, 1)
		go func() {
			time.Sleep(10500 * time.Millisecond)
			statusC <- n.last("STATUS=")
		}()
		_ = l.Run(ctx)
		failingStatus := <-statusC
		if got := testutil.ToFloat64(m.pushes.WithLabelValues("gw", "failure")); got != 3 {
			t.Errorf("failures = %v, want 3", got)
		}
		if got := testutil.ToFloat64(m.pushes.WithLabelValues("gw", "success")); got != 1 {
			t.Errorf("successes = %v, want 1", got)
		}
		if !strings.HasPrefix(failingStatus, "STATUS=push failing since ") || !strings.Contains(failingStatus, "connection refused") {
			t.Errorf("status while failing = %q", failingStatus)
		}
		if got := n.last("STATUS="); !strings.HasPrefix(got, "STATUS=pushed ") {
			t.Errorf("status after recovery = %q", got)
		}
	})
}

func TestShutdownIsBoundedWhileASendHangs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, n := &recSender{name: "s", delay: time.Hour}, &recNotifier{}
		l, _, _ := newTestLoop(s, n, 0)
		l.cfg.Timeout = time.Hour
		ctx, cancel := context.WithCancel(t.Context())
		go func() { time.Sleep(time.Second); cancel() }()
		start := time.Now()
		_ = l.Run(ctx)
		if d := time.Since(start); d > 1*time.Second+l.cfg.ShutdownTimeout {
			t.Errorf("Run returned %s after start, want within the shutdown timeout after cancel", d)
		}
		if n.has("STOPPING=1") != 1 || s.closed != 1 {
			t.Error("no STOPPING=1 or sender not closed")
		}
	})
}

func TestWatchdogPingsOnlyWhileCyclesComplete(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, n := &recSender{name: "s"}, &recNotifier{}
		l, _, _ := newTestLoop(s, n, 30*time.Second)
		ctx, cancel := context.WithCancel(t.Context())
		helperDone := make(chan struct{})
		go func() {
			defer close(helperDone)
			time.Sleep(61 * time.Second)
			if got := n.has("WATCHDOG=1"); got != 4 { // at 15, 30, 45, 60 s
				t.Errorf("healthy loop: %d pings in 61s with WatchdogSec=30s, want 4", got)
			}
			// Wedge the next cycle: the sender ignores its deadline.
			wedge := make(chan struct{})
			s.mu.Lock()
			s.wedge = wedge
			s.mu.Unlock()
			time.Sleep(60 * time.Second)
			cancel()
			time.Sleep(time.Hour)
			close(wedge)
		}()
		start := time.Now()
		_ = l.Run(ctx)
		// The wedged cycle starts at 65 s. The ping at 75 s (10 s in) is
		// still sent; from 90 s on (25 s in, past two intervals plus the
		// push timeout) none is.
		if got := n.has("WATCHDOG=1"); got != 5 {
			t.Errorf("%d pings, want 5: the loop must stop pinging while wedged", got)
		}
		if d := time.Since(start); d > 121*time.Second+l.cfg.ShutdownTimeout {
			t.Errorf("shutdown with a wedged cycle took until %s", d)
		}
		<-helperDone // unwedges the abandoned cycle so the bubble can end
		synctest.Wait()
	})
}

func TestOnceReturnsSenderError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &recSender{name: "gw", err: errors.New("refused")}
		l, _, _ := newTestLoop(s, &recNotifier{}, 0)
		err := l.Once(t.Context())
		if err == nil || !strings.Contains(err.Error(), "gw: refused") {
			t.Fatalf("Once = %v", err)
		}
		if s.closed != 1 {
			t.Error("Once did not close the sender")
		}
	})
}

func TestReloadReplacesSendersAndInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		old, next := &recSender{name: "old"}, &recSender{name: "new"}
		l, _, _ := newTestLoop(old, &recNotifier{}, 0)
		ctx, cancel := context.WithCancel(t.Context())
		go func() {
			time.Sleep(6 * time.Second) // old sent at 0 and 5
			s := l.cfg.Settings
			s.Senders, s.Interval = []batch.Sender{next}, 2*time.Second
			if err := l.Reload(ctx, s); err != nil {
				t.Error(err)
			}
			time.Sleep(5 * time.Second) // new at 8, 10
			cancel()
		}()
		_ = l.Run(ctx)
		if old.count() != 2 || old.closed != 1 {
			t.Errorf("old sender: %d sends, closed %d; want 2 and 1", old.count(), old.closed)
		}
		if next.count() != 2 || next.closed != 1 {
			t.Errorf("new sender: %d sends, closed %d; want 2 and 1", next.count(), next.closed)
		}
		if n := testutil.CollectAndCount(l.cfg.Metrics.pushes); n != 1 {
			t.Errorf("%d hostpush_pushes_total series after the reload, want 1: the replaced sender's must go", n)
		}
	})
}

func TestDropGo(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewGoCollector())
	NewMetrics(reg)
	fams, _ := reg.Gather()
	for _, f := range DropGo(fams) {
		if strings.HasPrefix(f.GetName(), "go_") {
			t.Fatalf("%s kept", f.GetName())
		}
	}
	names := []string{}
	for _, f := range DropGo(fams) {
		names = append(names, f.GetName())
	}
	if !slices.Contains(names, "hostpush_build_info") {
		t.Errorf("hostpush_build_info dropped: %v", names)
	}
}

// With GCAfterCycle, every finished cycle is followed by a collection.
// Real time, as the runtime's collections happen outside any bubble.
func TestGCAfterCycle(t *testing.T) {
	for _, on := range []bool{false, true} {
		s, n := &recSender{name: "s"}, &recNotifier{}
		l, _, _ := newTestLoop(s, n, 0)
		l.cfg.Interval, l.cfg.GCAfterCycle = 20*time.Millisecond, on
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		ctx, cancel := context.WithTimeout(t.Context(), 230*time.Millisecond)
		if err := l.Run(ctx); err != nil {
			t.Fatal(err)
		}
		cancel()
		runtime.ReadMemStats(&after)
		gcs, cycles := int(after.NumForcedGC-before.NumForcedGC), s.count()
		if on && gcs < cycles-1 || !on && gcs != 0 {
			t.Errorf("GCAfterCycle %v: %d forced collections in %d cycles", on, gcs, cycles)
		}
	}
}
