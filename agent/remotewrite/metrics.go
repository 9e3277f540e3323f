package remotewrite

import "github.com/prometheus/client_golang/prometheus"

// Reasons for samples_dropped_total.
const (
	dropBufferFull = "buffer_full" // oldest batch pushed out by a bound
	dropRejected   = "rejected"    // receiver answered 4xx other than 429
	dropTooLarge   = "too_large"   // one batch larger than buffer.max_bytes
	dropCorrupt    = "corrupt"     // unreadable batch file in the disk buffer
	dropShutdown   = "shutdown"    // memory-only batches left at Close
)

type metrics struct {
	sent, failed, retries prometheus.Counter
	dropped               *prometheus.CounterVec
	diskFallbacks         prometheus.Counter
	batches, bytes        prometheus.Gauge
	oldest, lastSuccess   prometheus.Gauge
}

func newMetrics(name string, reg prometheus.Registerer) (*metrics, error) {
	labels := prometheus.Labels{"name": name}
	opts := func(n, help string) prometheus.Opts {
		return prometheus.Opts{Namespace: "hostpush", Subsystem: "remote_write", Name: n, Help: help, ConstLabels: labels}
	}
	m := &metrics{
		sent:    prometheus.NewCounter(prometheus.CounterOpts(opts("samples_sent_total", "Samples the receiver accepted (2xx)."))),
		failed:  prometheus.NewCounter(prometheus.CounterOpts(opts("samples_failed_total", "Samples in write requests the receiver rejected with a 4xx other than 429; they are dropped, not retried."))),
		retries: prometheus.NewCounter(prometheus.CounterOpts(opts("retries_total", "Write requests that failed with 5xx, 429 or a network error and will be retried."))),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts(opts("samples_dropped_total", "Samples that will never be delivered, by reason: buffer_full, rejected, too_large, corrupt, shutdown.")), []string{"reason"}),
		diskFallbacks: prometheus.NewCounter(prometheus.CounterOpts(opts("buffer_disk_fallbacks_total",
			"Batches kept in memory because writing them to the disk buffer failed (for example ENOSPC)."))),
		batches:     prometheus.NewGauge(prometheus.GaugeOpts(opts("buffer_batches", "Batches waiting to be sent, including the one in flight."))),
		bytes:       prometheus.NewGauge(prometheus.GaugeOpts(opts("buffer_bytes", "Compressed size of the batches waiting to be sent."))),
		oldest:      prometheus.NewGauge(prometheus.GaugeOpts(opts("oldest_buffered_timestamp_seconds", "Gather time of the oldest batch waiting to be sent; 0 when none waits."))),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts(opts("last_send_success_timestamp_seconds", "When the receiver last accepted a write request."))),
	}
	for _, r := range []string{dropBufferFull, dropRejected, dropTooLarge, dropCorrupt, dropShutdown} {
		m.dropped.WithLabelValues(r)
	}
	for _, c := range []prometheus.Collector{m.sent, m.failed, m.retries, m.dropped, m.diskFallbacks, m.batches, m.bytes, m.oldest, m.lastSuccess} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}
