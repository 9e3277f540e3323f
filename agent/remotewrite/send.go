package remotewrite

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// One write request on the wire, and what to do when it fails.

// StatusError is a write request answered with a non-2xx status.
type StatusError struct {
	Status int
	Body   string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("receiver answered %d: %s", e.Status, e.Body)
}

// post sends one write request. status is 0 when no response arrived.
func (w *Writer) post(ctx context.Context, body []byte) (status int, retryAfter time.Duration, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return 0, 0, err
	}
	SetHeaders(req.Header)
	resp, err := w.client.Do(req)
	if err != nil {
		return 0, 0, fmt.Errorf("writing to %s: %w", w.cfg.Name, err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode/100 == 2 {
		return resp.StatusCode, 0, nil
	}
	retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	return resp.StatusCode, retryAfter, fmt.Errorf("writing to %s: %w", w.cfg.Name,
		&StatusError{Status: resp.StatusCode, Body: strings.TrimSpace(string(msg))})
}

// SetHeaders sets the Remote-Write 1.0 request headers.
func SetHeaders(h http.Header) {
	h.Set("Content-Encoding", "snappy")
	h.Set("Content-Type", "application/x-protobuf")
	h.Set("X-Prometheus-Remote-Write-Version", "0.1.0")
	h.Set("User-Agent", "hostpush")
}

// parseRetryAfter reads delay-seconds or an HTTP date; 0 when absent or
// unparsable.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
		if s < 0 {
			return 0
		}
		return time.Duration(min(int64(s), int64(maxRetryAfter/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// backoff is the wait before retry number attempt (0-based): the
// receiver's Retry-After when it sent one (at least min_backoff, at most
// 5m), else min_backoff doubled per attempt, capped at max_backoff, with
// the upper half jittered so many hosts do not retry in step.
func (w *Writer) backoff(attempt int, retryAfter time.Duration) time.Duration {
	lo, hi := time.Duration(w.cfg.MinBackoff), time.Duration(w.cfg.MaxBackoff)
	if retryAfter > 0 {
		return min(max(retryAfter, lo), maxRetryAfter)
	}
	d := lo
	for i := 0; i < attempt && d < hi; i++ {
		d *= 2
	}
	d = min(d, hi)
	return d/2 + rand.N(d/2+1)
}

func (w *Writer) noteFailure(err error, next time.Duration) {
	now := time.Now()
	if w.failingSince.IsZero() {
		w.failingSince, w.lastFailLog = now, now
		w.log.Warn("remote write failing, buffering and retrying", "err", err, "retry_in", next)
		return
	}
	if now.Sub(w.lastFailLog) >= failureLogEvery {
		w.lastFailLog = now
		w.mu.Lock()
		n := len(w.queue)
		w.mu.Unlock()
		w.log.Warn("remote write still failing", "err", err, "since", w.failingSince.Format(time.RFC3339), "buffered_batches", n)
	}
}

func (w *Writer) noteSuccess() {
	if w.failingSince.IsZero() {
		return
	}
	w.log.Info("remote write recovered", "failed_for", time.Since(w.failingSince).Round(time.Second))
	w.failingSince = time.Time{}
}
