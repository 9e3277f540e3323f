package imageserver

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/hostpush/hostpush/imageserver/admission"
	"github.com/hostpush/hostpush/imageserver/cache"
	"github.com/hostpush/hostpush/imageserver/params"
	"github.com/hostpush/hostpush/imageserver/pipeline"
)

// httpError carries a status and a message that is safe to show.
type httpError struct {
	code   int
	reason string // label of imageserver_rejections_total, "" for none
	msg    string
}

func (e *httpError) Error() string { return e.msg }

var (
	errNotFound  = &httpError{code: 404, reason: "not_found", msg: "image not found"}
	errBadPath   = &httpError{code: 400, reason: "bad_request", msg: "image path is not allowed; it must name a file inside the image directory"}
	errSignature = &httpError{code: 403, reason: "bad_signature", msg: "missing or invalid signature parameter s"}
	errInternal  = &httpError{code: 500, msg: "internal error"}
	errGone      = &httpError{code: 499, reason: "client_gone", msg: "client went away"}
)

// classify turns any error into the response to send; only here do errors
// become statuses.
func classify(err error) *httpError {
	var he *httpError
	var pe *params.Error
	var se *pipeline.SourceError
	var panicErr *cache.PanicError
	var le *pipeline.LimitError
	switch {
	case errors.As(err, &he):
		return he
	case errors.Is(err, params.ErrSignature):
		return errSignature
	case errors.As(err, &pe):
		return &httpError{code: 400, reason: "bad_request", msg: pe.Error()}
	case errors.As(err, &le):
		return &httpError{code: 400, reason: "bad_request", msg: le.Msg}
	case errors.As(err, &se):
		return &httpError{code: 422, reason: "bad_source", msg: se.Msg}
	case errors.Is(err, admission.ErrQueueFull):
		return &httpError{code: 503, reason: "queue_full", msg: "server busy, retry later"}
	case errors.Is(err, admission.ErrWaitTooLong):
		return &httpError{code: 503, reason: "queue_predicted", msg: "server busy, retry later"}
	case errors.Is(err, admission.ErrQueueTimeout):
		return &httpError{code: 503, reason: "queue_timeout", msg: "server busy, retry later"}
	case errors.Is(err, context.Canceled):
		return errGone
	case errors.Is(err, context.DeadlineExceeded):
		return &httpError{code: 503, reason: "transform_timeout", msg: "transform took too long, retry later"}
	case errors.As(err, &panicErr):
		return errInternal
	}
	return errInternal
}

// writeError renders an error response: one line of text, no internals.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	he := classify(err)
	if he.reason != "" {
		s.m.rejections.WithLabelValues(he.reason).Inc()
	}
	switch {
	case he.code == 499:
		// nobody is listening; record the code for the metrics only
		if sw, ok := w.(*statusWriter); ok {
			sw.code = 499
		}
		return
	case he.code >= 500:
		s.log.Log(r.Context(), levelFor(he), "request failed", "path", r.URL.Path, "code", he.code, "err", err)
	default:
		s.log.Debug("request refused", "path", r.URL.Path, "code", he.code, "err", err)
	}
	h := w.Header()
	for _, k := range []string{"ETag", "Cache-Control", "Vary", "Content-Length"} {
		h.Del(k)
	}
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	if he.code == 503 {
		h.Set("Retry-After", "1")
	}
	w.WriteHeader(he.code)
	_, _ = w.Write([]byte(strings.TrimSpace(he.msg) + "\n"))
}

func levelFor(he *httpError) slog.Level {
	if he.code == 503 {
		return slog.LevelDebug // overload is counted, not logged per request
	}
	return slog.LevelError
}
