package node

import (
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

// Collector runs the enabled node_exporter collectors concurrently on every
// Collect. Each gets a deadline: one that misses it is reported as failed
// (node_scrape_collector_success 0) for that gather and is not started again
// while its last run is still in flight, so a hung mount or a stuck D-Bus
// never holds the others back. A collector with an interval runs at most
// that often; in between its last values are sent again.
type Collector struct {
	timeout time.Duration
	logger  *slog.Logger
	units   []*unit
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
	c := &Collector{timeout: timeout, logger: logger}
	for name, u := range updaters {
		c.units = append(c.units, &unit{
			name: name, updater: u, interval: intervals[name],
			logger: logger.With("collector", name),
		})
	}
	sort.Slice(c.units, func(i, j int) bool { return c.units[i].name < c.units[j].name })
	return c
}

// Enabled lists the names of the collectors that run, sorted.
func (c *Collector) Enabled() []string {
	names := make([]string, len(c.units))
	for i, u := range c.units {
		names[i] = u.name
	}
	return names
}

// Describe sends nothing: the collectors' metrics vary with the host, so
// the collector is unchecked, as node_exporter's is in effect.
func (c *Collector) Describe(chan<- *prometheus.Desc) {}

// Collect runs every due collector with the deadline and sends what
// finished in time, plus duration and success per collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	deadline := time.Now().Add(c.timeout)
	var wg sync.WaitGroup
	for _, u := range c.units {
		wg.Go(func() { u.collect(ch, deadline, c.timeout) })
	}
	wg.Wait()
}

// errTimeout marks a run that missed its deadline.
var errTimeout = errors.New("missed its deadline")

// errInFlight marks a collector whose previous run has not returned yet.
var errInFlight = errors.New("previous run still in flight")

func (u *unit) collect(ch chan<- prometheus.Metric, deadline time.Time, timeout time.Duration) {
	start := time.Now()
	u.mu.Lock()
	if u.interval > 0 && !u.lastRun.IsZero() && start.Sub(u.lastRun) < u.interval {
		cached, ok, d := u.cached, u.cachedOK, u.cachedD
		u.mu.Unlock()
		u.send(ch, cached, ok, d)
		return
	}
	if u.inFlight {
		u.mu.Unlock()
		u.report(errInFlight)
		u.send(ch, nil, false, 0)
		return
	}
	u.inFlight = true
	u.mu.Unlock()

	res := make(chan result, 1)
	go u.run(start, res)
	timer := time.NewTimer(deadline.Sub(start))
	defer timer.Stop()
	select {
	case r := <-res:
		u.report(r.err)
		u.send(ch, r.metrics, r.err == nil, r.duration)
	case <-timer.C:
		u.report(fmt.Errorf("%w of %s", errTimeout, timeout))
		u.send(ch, nil, false, time.Since(start).Seconds())
	}
}

type result struct {
	metrics  []prometheus.Metric
	err      error
	duration float64
}

// run calls the collector, gathering what it sends. It owns the in-flight
// flag: a run that outlives its deadline clears it whenever it returns, and
// its metrics are then dropped (a later gather starts a fresh run).
func (u *unit) run(start time.Time, res chan<- result) {
	ch := make(chan prometheus.Metric, 64)
	var metrics []prometheus.Metric
	drained := make(chan struct{})
	go func() {
		for m := range ch {
			metrics = append(metrics, m)
		}
		close(drained)
	}()
	err := u.updater.Update(ch)
	close(ch)
	<-drained
	d := time.Since(start).Seconds()
	u.mu.Lock()
	u.inFlight = false
	if u.interval > 0 {
		u.lastRun, u.cached, u.cachedOK, u.cachedD = start, metrics, err == nil, d
	}
	u.mu.Unlock()
	res <- result{metrics: metrics, err: err, duration: d}
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

func (u *unit) send(ch chan<- prometheus.Metric, metrics []prometheus.Metric, ok bool, d float64) {
	for _, m := range metrics {
		ch <- m
	}
	success := 0.0
	if ok {
		success = 1
	}
	ch <- prometheus.MustNewConstMetric(durationDesc, prometheus.GaugeValue, d, u.name)
	ch <- prometheus.MustNewConstMetric(successDesc, prometheus.GaugeValue, success, u.name)
}
