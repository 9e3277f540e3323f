// Package scrape gathers the /metrics endpoints of services co-located with
// hostpush (the image server) on the same tick as the host, so each is
// pushed to the Pushgateway as its own group. A target that is down adds no
// group; it is reported through hostpush_scrape_success and
// hostpush_scrape_duration_seconds, which are pushed with the host group.
package scrape

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hostpush/hostpush/internal/batch"
)

// Scraper fetches every target concurrently on each Gather.
// Gather must not be called concurrently with itself (the agent loop never
// overlaps ticks); the Scraper's metrics may be collected at any time.
type Scraper struct {
	targets  []*target
	client   *http.Client
	maxBody  int64 // MaxBodyBytes; a test lowers it
	reserved []string
	success  *prometheus.GaugeVec
	duration *prometheus.GaugeVec
	series   *prometheus.GaugeVec
}

var _ batch.Source = (*Scraper)(nil)

// target is one configured Target plus its state across ticks.
type target struct {
	Target
	logger *slog.Logger
	down   bool // last fetch failed: log only changes
}

// Option adjusts a Scraper.
type Option func(*Scraper)

// WithGroupingLabels names the extra grouping labels of the push (besides
// job and instance). Scraped labels with these names are renamed to
// exported_<name>, as Prometheus does, because the Pushgateway would
// silently overwrite them with the group's values.
func WithGroupingLabels(names ...string) Option {
	return func(s *Scraper) { s.reserved = append(s.reserved, names...) }
}

// New validates the targets and registers hostpush_scrape_* on reg. A
// second New on the same registry (a config reload) takes over the metrics
// already registered and forgets targets that are gone.
func New(targets []Target, logger *slog.Logger, reg prometheus.Registerer, opts ...Option) (*Scraper, error) {
	if err := ValidateAll(targets); err != nil {
		return nil, err
	}
	s := &Scraper{
		client:   &http.Client{Transport: newTransport()},
		maxBody:  MaxBodyBytes,
		reserved: []string{"job", "instance"},
	}
	for _, o := range opts {
		o(s)
	}
	for _, t := range targets {
		s.targets = append(s.targets, &target{Target: t, logger: logger.With("target", t.Name, "url", t.URL)})
	}
	var err error
	if s.success, err = registerGaugeVec(reg, "hostpush_scrape_success",
		"Whether the last fetch of the co-located scrape target succeeded (1) or not (0)."); err != nil {
		return nil, err
	}
	if s.duration, err = registerGaugeVec(reg, "hostpush_scrape_duration_seconds",
		"How long the last fetch of the co-located scrape target took, successful or not."); err != nil {
		return nil, err
	}
	if s.series, err = registerGaugeVec(reg, "hostpush_scrape_series",
		"Series the last successful fetch of the co-located scrape target added to the push."); err != nil {
		return nil, err
	}
	return s, nil
}

func newTransport() *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	// Targets are co-located: compressing on loopback only costs CPU on
	// both sides.
	tr.DisableCompression = true
	tr.MaxIdleConnsPerHost = 1
	return tr
}

func registerGaugeVec(reg prometheus.Registerer, name, help string) (*prometheus.GaugeVec, error) {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, []string{"target"})
	if err := reg.Register(g); err != nil {
		var are prometheus.AlreadyRegisteredError
		if !errors.As(err, &are) {
			return nil, fmt.Errorf("registering %s: %w", name, err)
		}
		existing, ok := are.ExistingCollector.(*prometheus.GaugeVec)
		if !ok {
			return nil, fmt.Errorf("registering %s: %w", name, err)
		}
		g = existing
		g.Reset()
	}
	return g, nil
}

// Gather fetches every target concurrently, each bounded by its timeout and
// by ctx, and returns one group per target that answered, in config order.
func (s *Scraper) Gather(ctx context.Context) []batch.Group {
	groups := make([]*batch.Group, len(s.targets))
	var wg sync.WaitGroup
	for i, t := range s.targets {
		wg.Go(func() { groups[i] = s.gatherOne(ctx, t) })
	}
	wg.Wait()
	out := make([]batch.Group, 0, len(groups))
	for _, g := range groups {
		if g != nil {
			out = append(out, *g)
		}
	}
	return out
}

func (s *Scraper) gatherOne(ctx context.Context, t *target) *batch.Group {
	timeout := t.Timeout
	if timeout == 0 {
		timeout = DefaultFetchTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	fams, err := fetch(ctx, s.client, t.URL, timeout, s.maxBody)
	if err == nil {
		fams = Sanitize(fams, s.reserved)
	}
	s.duration.WithLabelValues(t.Name).Set(time.Since(start).Seconds())
	t.report(err)
	if err != nil {
		s.success.WithLabelValues(t.Name).Set(0)
		s.series.DeleteLabelValues(t.Name)
		return nil
	}
	s.success.WithLabelValues(t.Name).Set(1)
	s.series.WithLabelValues(t.Name).Set(float64(batch.CountSeries(fams)))
	return &batch.Group{Job: t.JobName(), Families: fams}
}

// report logs a target going down or coming back, not every failed tick.
func (t *target) report(err error) {
	switch {
	case err != nil && !t.down:
		t.logger.Warn("scrape target down; its group is not pushed until it answers", "err", err)
	case err == nil && t.down:
		t.logger.Info("scrape target answers again")
	}
	t.down = err != nil
}
