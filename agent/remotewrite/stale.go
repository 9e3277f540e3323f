package remotewrite

// Stale markers on a clean stop.

import (
	"context"
	"maps"
	"reflect"
	"time"
)

// KeepSeriesOnClose makes Close send no stale markers, so the last
// samples stay visible for the receiver's lookback (5 minutes on
// Prometheus): for a run that pushes once (hostpush --once), whose series
// would otherwise end right after their only sample.
func (w *Writer) KeepSeriesOnClose() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.keepSeries = true
}

// SameSeries reports whether c and o write the same series to the same
// receiver: the same url, external_labels and le_quantile_format (after
// SetDefaults), and the same tenant where a receiver tells tenants apart
// by a header (Mimir's and Cortex's X-Scope-OrgID) or by the basic_auth
// user. A Writer replaced by one for which this holds should keep its
// series on Close: its stale markers would end series that go on, and
// leave a gap on the receiver until the next push.
func (c Config) SameSeries(o Config) bool {
	return c.URL == o.URL && c.LeQuantileFormat == o.LeQuantileFormat && maps.Equal(c.ExternalLabels, o.ExternalLabels) &&
		reflect.DeepEqual(c.HTTPClientConfig.HTTPHeaders, o.HTTPClientConfig.HTTPHeaders) &&
		basicAuthUser(c) == basicAuthUser(o)
}

func basicAuthUser(c Config) [3]string {
	if ba := c.HTTPClientConfig.BasicAuth; ba != nil {
		return [3]string{ba.Username, ba.UsernameFile, ba.UsernameRef}
	}
	return [3]string{}
}

// sendStaleMarkers ends every series of the last batch at once, as
// Prometheus does when a target goes away, instead of leaving them to the
// receiver's lookback (5 minutes on Prometheus). Only after the buffer
// drained: a marker ahead of undelivered samples would make the receiver
// reject them as out of order. One try; stale markers are not counted as
// samples sent.
func (w *Writer) sendStaleMarkers() {
	w.mu.Lock()
	last, keep := w.last, w.keepSeries
	w.mu.Unlock()
	if last == nil || keep || w.runCtx.Err() != nil {
		return
	}
	at := time.Now()
	if at.UnixMilli() <= last.Time.UnixMilli() {
		at = time.UnixMilli(last.Time.UnixMilli() + 1) // never on the last sample's timestamp
	}
	body, n := newEncoder(w.cfg).EncodeStale(last, at)
	ctx, cancel := context.WithTimeout(w.runCtx, time.Duration(w.cfg.Timeout))
	defer cancel()
	if _, _, err := w.post(ctx, body); err != nil {
		w.log.Warn("stale markers not delivered; the series end after the receiver's lookback", "series", n, "err", err)
		return
	}
	w.log.Info("sent stale markers", "series", n)
}
