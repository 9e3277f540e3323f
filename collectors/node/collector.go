package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/node_exporter/collector"
)

// DefaultTimeoutShare is the share of the push interval a collector may take
// when collectors.timeout is not set.
const DefaultTimeoutShare = 0.4

var (
	durationDesc = prometheus.NewDesc("node_scrape_collector_duration_seconds",
		"node_exporter: Duration of a collector scrape.", []string{"collector"}, nil)
	successDesc = prometheus.NewDesc("node_scrape_collector_success",
		"node_exporter: Whether a collector succeeded.", []string{"collector"}, nil)
)

// DisableDefaults turns node_exporter's default collectors off, as its main
// does for --collector.disable-defaults. Call it after the command line is
// parsed (kingpin.CommandLine, where node_exporter registered its flags) and
// before New.
func DisableDefaults() { collector.DisableDefaultCollectors() }

// Updater is what each node_exporter collector does: send its metrics.
// It is node_exporter's collector.Collector.
type Updater interface {
	Update(ch chan<- prometheus.Metric) error
}

// Collector runs the enabled node_exporter collectors on every Collect.
// Each gets a deadline: one that misses it is reported as failed
// (node_scrape_collector_success 0) for that gather and is not started again
// while its last run is still in flight, so a hung mount or a stuck D-Bus
// never holds the others back. A collector with an interval runs at most
// that often; in between its last values are sent again.
//
// The collectors run one after another on a runner goroutine (see pass):
// with GOMAXPROCS=1 running them concurrently buys no CPU, and a goroutine,
// two channels and a timer per collector per gather cost more than most
// collectors do. A collector that blocks is handled by starting another
// runner for the rest.
type Collector struct {
	timeout time.Duration
	stall   time.Duration
	logger  *slog.Logger
	units   []*unit

	home     chan *pass    // the home runner's passes (see homeRunner)
	homeDone chan struct{} // closed when the home runner has returned
	start    sync.Once     // starts the home runner at the first gather
	stop     sync.Once
}

// unit is one node_exporter collector and its run state.
type unit struct {
	name     string
	updater  Updater
	interval time.Duration
	logger   *slog.Logger

	mu       sync.Mutex
	inFlight bool
	failing  bool      // last outcome was a failure (logged on change only)
	lastRun  time.Time // start of the last finished run that is cached
	cached   []prometheus.Metric
	cachedOK bool
	cachedD  float64
}

// New builds the collectors node_exporter enabled after Parse. timeout is
// each collector's deadline; intervals may set a minimum period per
// collector name.
func New(logger *slog.Logger, timeout time.Duration, intervals map[string]time.Duration) (*Collector, error) {
	nc, err := collector.NewNodeCollector(logger)
	if err != nil {
		return nil, fmt.Errorf("building node_exporter collectors: %w", err)
	}
	updaters := make(map[string]Updater, len(nc.Collectors))
	for name, c := range nc.Collectors {
		updaters[name] = c
	}
	if err := substituteNative(logger, updaters); err != nil {
		return nil, err
	}
	return newCollector(logger, timeout, intervals, updaters), nil
}

func newCollector(logger *slog.Logger, timeout time.Duration, intervals map[string]time.Duration, updaters map[string]Updater) *Collector {
	c := &Collector{timeout: timeout, stall: stallAfter(timeout), logger: logger,
		home: make(chan *pass), homeDone: make(chan struct{})}
	for name, u := range updaters {
		c.units = append(c.units, &unit{
			name: name, updater: u, interval: intervals[name],
			logger: logger.With("collector", name),
		})
	}
	sort.Slice(c.units, func(i, j int) bool { return c.units[i].name < c.units[j].name })
	return c
}

// stallAfter is how long a runner may go without finishing a collector
// before the gather starts another runner for the collectors not yet
// started: a tenth of the deadline, between 10 ms and 250 ms. A busy host's
// processes collector can take longer than that; another runner then only
// shares the CPU with it.
func stallAfter(timeout time.Duration) time.Duration {
	return min(max(timeout/10, 10*time.Millisecond), 250*time.Millisecond)
}

// Enabled lists the names of the collectors that run, sorted.
func (c *Collector) Enabled() []string {
	names := make([]string, len(c.units))
	for i, u := range c.units {
		names[i] = u.name
	}
	return names
}

// Updater returns the enabled collector of that name, nil if there is
// none, for a benchmark that runs one collector alone.
func (c *Collector) Updater(name string) Updater {
	for _, u := range c.units {
		if u.name == name {
			return u.updater
		}
	}
	return nil
}

// Describe sends nothing: the collectors' metrics vary with the host, so
// the collector is unchecked, as node_exporter's is in effect.
func (c *Collector) Describe(chan<- *prometheus.Desc) {}

// Collect runs every due collector with the deadline and sends what
// finished in time, plus duration and success per collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	for _, o := range c.gather() {
		for _, m := range o.metrics {
			ch <- m
		}
		ch <- o.unit.durationMetric(o.duration)
		ch <- o.unit.successMetric(o.ok)
	}
}

// Close ends the home runner and waits for it until ctx ends: it returns
// when the collector it is in (one that hung, at worst) returns. Collect
// must not be called after Close.
func (c *Collector) Close(ctx context.Context) error {
	c.start.Do(func() { close(c.homeDone) }) // never started: nothing to wait for
	c.stop.Do(func() { close(c.home) })
	select {
	case <-c.homeDone:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("node_exporter collectors: a collector still runs: %w", ctx.Err())
	}
}

// errTimeout marks a run that missed its deadline.
var errTimeout = errors.New("missed its deadline")

// errInFlight marks a collector whose previous run has not returned yet.
var errInFlight = errors.New("previous run still in flight")

// unitOutcome is what one gather sends for one collector.
type unitOutcome struct {
	unit     *unit
	metrics  []prometheus.Metric
	ok       bool
	duration float64
}

// gather decides per collector whether it reuses its cached values, is
// still in flight or runs now, runs the due ones and returns the outcomes
// in the collectors' order.
func (c *Collector) gather() []unitOutcome {
	start := time.Now()
	deadline := start.Add(c.timeout)
	outs := make([]unitOutcome, len(c.units))
	var due []int
	for i, u := range c.units {
		outs[i].unit = u
		u.mu.Lock()
		switch {
		case u.interval > 0 && !u.lastRun.IsZero() && start.Sub(u.lastRun) < u.interval:
			outs[i].metrics, outs[i].ok, outs[i].duration = u.cached, u.cachedOK, u.cachedD
		case u.inFlight:
			outs[i].duration = -1 // reported below, outside the lock
		default:
			u.inFlight = true
			due = append(due, i)
		}
		u.mu.Unlock()
		if outs[i].duration < 0 {
			outs[i].duration = 0
			u.report(errInFlight)
		}
	}
	if len(due) > 0 {
		p := newPass(c.units, due, start)
		handed := false
		c.start.Do(func() { handed = true; go homeRunner(p, c.home, c.homeDone) })
		p.wait(deadline, c.stall, c.home, handed)
		p.finish(outs, c.timeout)
	}
	return outs
}

// report logs a collector's failures when its state changes, not on every
// tick: the first failure at error level, recovery at info.
func (u *unit) report(err error) {
	u.mu.Lock()
	was := u.failing
	u.failing = err != nil && !collector.IsNoDataError(err)
	now := u.failing
	u.mu.Unlock()
	switch {
	case err != nil && collector.IsNoDataError(err):
		u.logger.Debug("collector returned no data", "err", err)
	case now && !was:
		u.logger.Error("collector failed", "err", err)
	case !now && was:
		u.logger.Info("collector recovered")
	}
}

func (u *unit) durationMetric(d float64) prometheus.Metric {
	return prometheus.MustNewConstMetric(durationDesc, prometheus.GaugeValue, d, u.name)
}

func (u *unit) successMetric(ok bool) prometheus.Metric {
	success := 0.0
	if ok {
		success = 1
	}
	return prometheus.MustNewConstMetric(successDesc, prometheus.GaugeValue, success, u.name)
}
