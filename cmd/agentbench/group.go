package main

import (
	"context"
	"fmt"
	"sort"

	dto "github.com/prometheus/client_model/go"

	"github.com/hostpush/hostpush/internal/procs"
)

// group summarises what one Pushgateway holds for job="host-stats": the
// number of series pushed (push_time_seconds and push_failure_time_seconds,
// which the gateway adds, left out), the collectors that reported and those
// that reported failure, and hostpush's own counters when present.
type group struct {
	Series     int
	Collectors []string
	Failed     []string
	Families   map[string]bool
	// Own metrics of hostpush (zero for node_exporter's group).
	PushesOK, PushesFailed, TicksSkipped float64
	// PushTime is the gateway's push_time_seconds of the group (Unix
	// seconds of the last successful push), 0 when none.
	PushTime float64
}

// gatewayAddedFamilies are the families the Pushgateway adds to each group.
var gatewayAddedFamilies = map[string]bool{"push_time_seconds": true, "push_failure_time_seconds": true}

// fetchGroup reads the gateway's /metrics and summarises the group of job.
func fetchGroup(ctx context.Context, gatewayURL, job string) (group, error) {
	fams, err := procs.Scrape(ctx, gatewayURL+"/metrics")
	if err != nil {
		return group{}, fmt.Errorf("reading the group: %w", err)
	}
	return summarise(fams, job), nil
}

// summarise sums up the families of job as a group.
func summarise(fams map[string]*dto.MetricFamily, job string) group {
	g := group{Families: map[string]bool{}}
	for name, f := range fams {
		if name == "push_time_seconds" {
			for _, m := range f.GetMetric() {
				if label(m, "job") == job {
					g.PushTime = value(m)
				}
			}
		}
		if gatewayAddedFamilies[name] {
			continue
		}
		for _, m := range f.GetMetric() {
			if label(m, "job") != job {
				continue
			}
			g.Families[name] = true
			g.Series += seriesOf(f.GetType(), m)
			v := value(m)
			switch name {
			case "node_scrape_collector_success":
				c := label(m, "collector")
				g.Collectors = append(g.Collectors, c)
				if v == 0 {
					g.Failed = append(g.Failed, c)
				}
			case "hostpush_pushes_total":
				if label(m, "result") == "success" {
					g.PushesOK += v
				} else {
					g.PushesFailed += v
				}
			case "hostpush_ticks_skipped_total":
				g.TicksSkipped += v
			}
		}
	}
	sort.Strings(g.Collectors)
	sort.Strings(g.Failed)
	return g
}

// seriesOf counts the series one metric stands for in Prometheus: a
// histogram is its buckets plus _sum and _count, a summary its quantiles
// plus _sum and _count.
func seriesOf(t dto.MetricType, m *dto.Metric) int {
	switch t {
	case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
		n := len(m.GetHistogram().GetBucket()) + 2
		if !hasInfBucket(m.GetHistogram()) {
			n++ // the text format always shows le="+Inf"
		}
		return n
	case dto.MetricType_SUMMARY:
		return len(m.GetSummary().GetQuantile()) + 2
	default:
		return 1
	}
}

func hasInfBucket(h *dto.Histogram) bool {
	for _, b := range h.GetBucket() {
		if b.GetUpperBound() > 1e308 {
			return true
		}
	}
	return false
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Gauge != nil:
		return m.GetGauge().GetValue()
	case m.Counter != nil:
		return m.GetCounter().GetValue()
	case m.Untyped != nil:
		return m.GetUntyped().GetValue()
	}
	return 0
}
