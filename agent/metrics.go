package agent

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hostpush/hostpush/internal/buildinfo"
)

// Metrics are hostpush's own metrics, pushed with the host group.
type Metrics struct {
	pushes       *prometheus.CounterVec
	pushDuration *prometheus.HistogramVec
	lastSuccess  *prometheus.GaugeVec
	gatherDur    prometheus.Gauge
	skipped      prometheus.Counter
	series       prometheus.Gauge
}

// NewMetrics registers hostpush's own metrics, including
// hostpush_build_info, on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		pushes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hostpush_pushes_total",
			Help: "Pushes by sender and result (success or failure).",
		}, []string{"sender", "result"}),
		pushDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "hostpush_push_duration_seconds",
			Help:    "Duration of a push to one sender, failed ones included.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"sender"}),
		lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "hostpush_last_push_success_timestamp_seconds",
			Help: "Unix time of the last successful push per sender.",
		}, []string{"sender"}),
		gatherDur: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "hostpush_gather_duration_seconds",
			Help: "Duration of the last gather of all collectors and scrape targets.",
		}),
		skipped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hostpush_ticks_skipped_total",
			Help: "Ticks skipped because the previous gather or push was still running.",
		}),
		series: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "hostpush_series_pushed",
			Help: "Series in the last batch handed to the senders.",
		}),
	}
	// node_exporter_build_info's labels, and the version of the collectors
	// embedded, which stand in for node_exporter itself
	info := buildinfo.Collector("hostpush", prometheus.Labels{"node_exporter_version": NodeExporterVersion()})
	reg.MustRegister(m.pushes, m.pushDuration, m.lastSuccess, m.gatherDur, m.skipped, m.series, info)
	return m
}

// NodeExporterVersion is the version of node_exporter whose collectors
// are linked in.
func NodeExporterVersion() string {
	return buildinfo.ModuleVersion("github.com/prometheus/node_exporter")
}

// forget drops the series of a sender that a reload removed, so they are
// not pushed on forever.
func (m *Metrics) forget(sender string) {
	l := prometheus.Labels{"sender": sender}
	m.pushes.DeletePartialMatch(l)
	m.pushDuration.DeletePartialMatch(l)
	m.lastSuccess.DeletePartialMatch(l)
}
