package imageserver

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the server's own series; every name starts with imageserver_.
type metrics struct {
	requests   *prometheus.CounterVec
	duration   prometheus.Histogram
	steps      *prometheus.HistogramVec
	queueWait  *prometheus.HistogramVec
	rejections *prometheus.CounterVec
	hits       prometheus.Counter
	misses     prometheus.Counter
	collapsed  prometheus.Counter
	panics     prometheus.Counter
	ignored    *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer, s *Server) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "imageserver_http_requests_total",
			Help: "HTTP requests answered, by status code (499: the client went away first).",
		}, []string{"code"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "imageserver_http_request_duration_seconds",
			Help:    "Time from request to the end of the response, all endpoints but /metrics.",
			Buckets: []float64{0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 1.5, 2, 5, 10},
		}),
		steps: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "imageserver_transform_step_duration_seconds",
			Help:    "Wall time of each pipeline step; libvips computes decode, crop, resize, orient and colour in render.",
			Buckets: []float64{0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2},
		}, []string{"step"}),
		queueWait: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "imageserver_queue_wait_seconds",
			Help:    "Time transforms waited for a worker, rejected ones included, by pool (default, avif).",
			Buckets: []float64{0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5},
		}, []string{"pool"}),
		rejections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "imageserver_rejections_total",
			Help: "Requests refused, by reason: queue_full, queue_predicted (expected wait over the queue timeout), queue_timeout, transform_timeout (503); bad_request, bad_signature, not_found, bad_source (4xx); client_gone.",
		}, []string{"reason"}),
		hits:      prometheus.NewCounter(prometheus.CounterOpts{Name: "imageserver_cache_hits_total", Help: "Requests answered from the result cache (304s included)."}),
		misses:    prometheus.NewCounter(prometheus.CounterOpts{Name: "imageserver_cache_misses_total", Help: "Requests that needed a transform (their own or a collapsed one)."}),
		collapsed: prometheus.NewCounter(prometheus.CounterOpts{Name: "imageserver_collapsed_requests_total", Help: "Cache misses that waited for an identical transform already in flight."}),
		panics:    prometheus.NewCounter(prometheus.CounterOpts{Name: "imageserver_panics_total", Help: "Panics recovered while serving (answered 500)."}),
		ignored: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "imageserver_ignored_params_total",
			Help: "imgix parameters (or values of them) that requests gave and this server ignores, by imgix's canonical parameter name.",
		}, []string{"param"}),
	}
	for _, code := range []string{"200", "304", "400", "403", "404", "422", "500", "503"} {
		m.requests.WithLabelValues(code)
	}
	for _, r := range []string{"queue_full", "queue_predicted", "queue_timeout", "bad_request", "bad_signature", "not_found", "bad_source", "client_gone", "transform_timeout"} {
		m.rejections.WithLabelValues(r)
	}
	for _, pl := range []*pool{s.main, s.avif} {
		m.queueWait.WithLabelValues(pl.name)
		registerPool(reg, pl)
	}
	reg.MustRegister(m.requests, m.duration, m.steps, m.queueWait, m.rejections, m.hits, m.misses, m.collapsed, m.panics, m.ignored,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "imageserver_cache_bytes", Help: "Bytes held by the result cache."},
			func() float64 { return float64(s.cache.Bytes()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "imageserver_cache_max_bytes", Help: "Size limit of the result cache."},
			func() float64 { return float64(s.cfg.CacheSize) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "imageserver_cache_entries", Help: "Results held by the cache."},
			func() float64 { return float64(s.cache.Len()) }),
	)
	return m
}

// registerPool adds the gauges of one worker pool, labelled with its name.
func registerPool(reg prometheus.Registerer, pl *pool) {
	l := prometheus.Labels{"pool": pl.name}
	workers := float64(pl.workers)
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "imageserver_transforms_in_flight", Help: "Transforms holding a worker, by pool.", ConstLabels: l},
			func() float64 { return float64(pl.adm.InFlight()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "imageserver_queue_waiting", Help: "Transforms waiting for a worker, by pool.", ConstLabels: l},
			func() float64 { return float64(pl.adm.Waiting()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "imageserver_workers", Help: "Transforms allowed to run at once, by pool.", ConstLabels: l},
			func() float64 { return workers }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "imageserver_transform_hold_seconds",
			Help: "Estimated time a transform holds a worker (admission's weighted mean, or the running ones' age when longer), by pool.", ConstLabels: l},
			func() float64 { return pl.adm.HoldTime().Seconds() }),
	)
}

// ObserveStep implements pipeline.Observer.
func (m *metrics) ObserveStep(step string, d time.Duration) {
	m.steps.WithLabelValues(step).Observe(d.Seconds())
}
