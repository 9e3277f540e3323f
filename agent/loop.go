// Package agent is hostpush's push loop: it gathers on a ticker, hands each
// gather to every configured Sender (Pushgateway, remote_write), and reports
// its own health as metrics and to systemd.
package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hostpush/hostpush/internal/batch"
)

// Settings are the parts of the loop that a reload may change.
type Settings struct {
	Interval time.Duration // time between ticks
	Timeout  time.Duration // deadline of each Send
	Job      string        // job of the host group
	Grouping []batch.Label // instance first, then extra grouping labels
	Senders  []batch.Sender
	Sources  []batch.Source // groups besides the host group, e.g. scrape targets
}

// Config builds a Loop.
type Config struct {
	Settings
	Host     prometheus.Gatherer // the host group: collectors and own metrics
	Metrics  *Metrics
	Logger   *slog.Logger
	Notifier Notifier // nil: no service manager
	// Watchdog is the service manager's watchdog period (0: none). The
	// loop pings at half of it while cycles complete.
	Watchdog time.Duration
	// ShutdownTimeout bounds the wait for a running cycle and the senders'
	// Close on stop.
	ShutdownTimeout time.Duration
	// GCAfterCycle runs a garbage collection after each cycle, in the idle
	// time before the next tick. The pacer's floor is a 4 MB heap goal
	// (at GOGC=100), while a cycle leaves about 1 MB live and makes 1.5 MB
	// of garbage: collecting once per cycle keeps the heap at live plus
	// one cycle's garbage, never at the floor. The cost is at most one
	// collection per cycle.
	GCAfterCycle bool
}

// Loop gathers on every tick and hands the batch to every sender. A tick
// that comes while the last cycle still runs is skipped and counted.
type Loop struct {
	cfg    Config
	reload chan Settings

	// state owned by the Run goroutine
	status  status
	gathErr string

	mu      sync.Mutex      // guards failing: senders report concurrently
	failing map[string]bool // by sender name
}

// New returns a loop; Run starts it.
func New(cfg Config) *Loop {
	if cfg.Notifier == nil {
		cfg.Notifier = nopNotifier{}
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(prometheus.NewRegistry())
	}
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = time.Second
	}
	return &Loop{cfg: cfg, reload: make(chan Settings), failing: map[string]bool{}}
}

// Reload hands new settings to the running loop; they apply from the next
// tick. The senders they replace are closed. It blocks until Run took them
// or ctx ends.
func (l *Loop) Reload(ctx context.Context, s Settings) error {
	select {
	case l.reload <- s:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Once runs one cycle and returns the senders' errors joined.
func (l *Loop) Once(ctx context.Context) error {
	res := l.cycle(ctx, l.cfg.Settings)
	l.closeSenders(l.cfg.Senders)
	return res.err
}

type cycleResult struct {
	series int
	err    error
}

// Run ticks until ctx ends, then stops within ShutdownTimeout: it sends
// STOPPING=1, waits for a running cycle, and closes the senders.
func (l *Loop) Run(ctx context.Context) error {
	cur := l.cfg.Settings
	cycleCtx, cancelCycles := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelCycles()

	ticker := time.NewTicker(cur.Interval)
	defer ticker.Stop()
	var wdC <-chan time.Time
	if l.cfg.Watchdog > 0 {
		wd := time.NewTicker(l.cfg.Watchdog / 2)
		defer wd.Stop()
		wdC = wd.C
	}

	// done has room for one result, so a cycle abandoned at shutdown can
	// still finish and exit.
	done := make(chan cycleResult, 1)
	running := false
	var started time.Time
	start := func() {
		running, started = true, time.Now()
		s := cur
		go func() {
			res := l.cycle(cycleCtx, s)
			if l.cfg.GCAfterCycle {
				runtime.GC()
			}
			done <- res
		}()
	}

	l.notify("READY=1")
	l.notify("STATUS=" + l.status.text(time.Now()))
	start()
	for {
		select {
		case <-ctx.Done():
			l.notify("STOPPING=1")
			l.shutdown(cur, running, done, cancelCycles)
			return nil
		case <-ticker.C:
			if running {
				l.cfg.Metrics.skipped.Inc()
				l.cfg.Logger.Debug("tick skipped: previous cycle still running", "running_for", time.Since(started))
				continue
			}
			start()
		case res := <-done:
			running = false
			l.status.record(time.Now(), res.series, res.err)
			l.notify("STATUS=" + l.status.text(time.Now()))
		case <-wdC:
			// A cycle is bounded by the collectors' deadline plus the push
			// timeout; one running longer than two intervals means the loop
			// is wedged, and the service manager should restart us.
			if !running || time.Since(started) < 2*cur.Interval+cur.Timeout {
				l.notify("WATCHDOG=1")
				l.notify("STATUS=" + l.status.text(time.Now()))
			}
		case s := <-l.reload:
			if running {
				// Let the cycle that uses the old senders finish first.
				res := <-done
				running = false
				l.status.record(time.Now(), res.series, res.err)
			}
			l.replaceSenders(cur.Senders, s.Senders)
			if s.Interval != cur.Interval {
				ticker.Reset(s.Interval)
			}
			cur = s
			l.cfg.Logger.Info("configuration reloaded", "interval", s.Interval, "senders", len(s.Senders))
		}
	}
}

// shutdown gives a running cycle a quarter of the shutdown timeout to
// finish, cancels it and waits another quarter, then abandons it; the
// senders' Close gets the other half. Stopping is bounded even when a
// sender ignores its context.
func (l *Loop) shutdown(cur Settings, running bool, done <-chan cycleResult, cancel context.CancelFunc) {
	if running {
		quarter := l.cfg.ShutdownTimeout / 4
		select {
		case <-done:
		case <-time.After(quarter):
			l.cfg.Logger.Warn("stopping while a cycle still runs; cancelling it")
			cancel()
			select {
			case <-done:
			case <-time.After(quarter):
				l.cfg.Logger.Error("a cycle ignored cancellation; stopping without it")
			}
		}
	}
	l.closeSenders(cur.Senders)
}

func (l *Loop) closeSenders(senders []batch.Sender) {
	ctx, cancel := context.WithTimeout(context.Background(), l.cfg.ShutdownTimeout/2)
	defer cancel()
	var wg sync.WaitGroup
	for _, s := range senders {
		wg.Go(func() {
			if err := s.Close(ctx); err != nil {
				l.cfg.Logger.Warn("closing sender", "sender", s.Name(), "err", err)
			}
		})
	}
	wg.Wait()
}

// replaceSenders closes the old senders that are not in the new set.
func (l *Loop) replaceSenders(old, next []batch.Sender) {
	var gone []batch.Sender
	for _, o := range old {
		kept := false
		for _, n := range next {
			kept = kept || n == o
		}
		if !kept {
			gone = append(gone, o)
		}
	}
	for _, g := range gone {
		l.cfg.Metrics.forget(g.Name())
	}
	l.closeSenders(gone)
}

func (l *Loop) notify(state string) {
	if err := l.cfg.Notifier.Notify(state); err != nil {
		l.cfg.Logger.Debug("notifying the service manager", "err", err)
	}
}

// cycle gathers once and sends the batch to every sender concurrently.
func (l *Loop) cycle(ctx context.Context, s Settings) cycleResult {
	b := l.gather(ctx, s)
	series := b.Series()
	l.cfg.Metrics.series.Set(float64(series))

	errs := make([]error, len(s.Senders))
	var wg sync.WaitGroup
	for i, snd := range s.Senders {
		wg.Go(func() { errs[i] = l.send(ctx, s, snd, b) })
	}
	wg.Wait()
	return cycleResult{series: series, err: errors.Join(errs...)}
}

func (l *Loop) gather(ctx context.Context, s Settings) *batch.Batch {
	begin := time.Now()
	b := &batch.Batch{Time: begin, Grouping: s.Grouping}
	// Sources (scrape targets) run beside the collectors and must leave the
	// push its timeout within the interval.
	var extra []batch.Group
	var wg sync.WaitGroup
	if len(s.Sources) > 0 {
		gctx, cancel := context.WithTimeout(ctx, s.Interval-s.Timeout)
		defer cancel()
		wg.Go(func() {
			for _, src := range s.Sources {
				extra = append(extra, src.Gather(gctx)...)
			}
		})
	}
	fams, err := l.cfg.Host.Gather()
	l.reportGather(err)
	wg.Wait()
	b.Groups = append(b.Groups, batch.Group{Job: s.Job, Families: DropGo(fams)})
	b.Groups = append(b.Groups, extra...)
	l.cfg.Metrics.gatherDur.Set(time.Since(begin).Seconds())
	return b
}

// reportGather logs gather errors (inconsistent metrics from a collector)
// when they change, not on every tick. The rest of the gather is pushed.
func (l *Loop) reportGather(err error) {
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	if msg != l.gathErr && msg != "" {
		l.cfg.Logger.Warn("gather returned errors; pushing the rest", "err", err)
	}
	l.gathErr = msg
}

func (l *Loop) send(ctx context.Context, s Settings, snd batch.Sender, b *batch.Batch) error {
	name := snd.Name()
	sctx, cancel := context.WithTimeout(ctx, s.Timeout)
	defer cancel()
	begin := time.Now()
	err := snd.Send(sctx, b)
	l.cfg.Metrics.pushDuration.WithLabelValues(name).Observe(time.Since(begin).Seconds())
	if err != nil {
		l.cfg.Metrics.pushes.WithLabelValues(name, "failure").Inc()
		l.logChange(name, err)
		return fmt.Errorf("%s: %w", name, err)
	}
	l.cfg.Metrics.pushes.WithLabelValues(name, "success").Inc()
	l.cfg.Metrics.lastSuccess.WithLabelValues(name).SetToCurrentTime()
	l.logChange(name, nil)
	return nil
}

// logChange logs a sender's failure when it starts failing and its
// recovery, not every tick.
func (l *Loop) logChange(name string, err error) {
	l.mu.Lock()
	was := l.failing[name]
	l.failing[name] = err != nil
	l.mu.Unlock()
	switch {
	case err != nil && !was:
		l.cfg.Logger.Error("push failed; will keep trying every tick", "sender", name, "err", err)
	case err == nil && was:
		l.cfg.Logger.Info("push recovered", "sender", name)
	}
}
