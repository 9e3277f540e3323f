package scrape

import (
	"io"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// BenchmarkGather measures one tick's scrape of an endpoint shaped like the
// image server's (Go and process collectors, request and step histograms),
// negotiated as protobuf: the CPU a co-located target adds to each cycle.
func BenchmarkGather(b *testing.B) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	req := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "app_http_requests_total", Help: "h"}, []string{"code"})
	steps := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "app_step_duration_seconds", Help: "h",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 12)}, []string{"step"})
	dur := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "app_http_request_duration_seconds", Help: "h",
		Buckets: prometheus.ExponentialBuckets(0.005, 2, 12)})
	reg.MustRegister(req, steps, dur)
	for _, c := range []string{"200", "304", "400", "404", "503"} {
		req.WithLabelValues(c).Inc()
	}
	for _, s := range []string{"probe", "load", "render", "blur", "encode"} {
		steps.WithLabelValues(s).Observe(0.01)
	}
	dur.Observe(0.1)
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()
	s, err := New([]Target{{Name: "app", URL: srv.URL}}, testLogger(io.Discard), prometheus.NewRegistry())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if g := s.Gather(b.Context()); len(g) != 1 {
			b.Fatal("target down")
		}
	}
}
