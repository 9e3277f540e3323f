// Package remotewrite sends hostpush's gathers to Prometheus Remote-Write
// 1.0 receivers (Prometheus, VictoriaMetrics, Mimir, Thanos). Each batch
// becomes one write request stamped with its gather time; what cannot be
// sent waits in a bounded buffer, in memory or on disk, and is replayed
// oldest first at a bounded rate.
package remotewrite

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/config"

	"github.com/hostpush/hostpush/internal/batch"
)

var _ batch.Sender = (*Writer)(nil)

// ErrClosed is returned by Send after Close.
var ErrClosed = errors.New("remote_write output is closed")

// maxRetryAfter caps how long a receiver's Retry-After can pause sending.
const maxRetryAfter = 5 * time.Minute

// failureLogEvery throttles the log while a receiver keeps failing.
const failureLogEvery = 5 * time.Minute

// doer sends one HTTP request; *http.Client is one.
type doer interface {
	Do(*http.Request) (*http.Response, error)
}

// Writer is one remote_write output. Send only encodes and enqueues; a
// goroutine owned by the Writer delivers the buffer oldest first until
// Close.
type Writer struct {
	cfg    Config
	log    *slog.Logger
	client doer
	m      *metrics
	store  *store // nil: memory only
	minGap time.Duration

	sendMu sync.Mutex // serializes Send; guards enc
	enc    *Encoder

	mu          sync.Mutex   // guards the fields below
	queue       []*entry     // oldest first
	last        *batch.Batch // the newest batch queued, whose series stale markers end on stop
	bytes       int64
	nextSeq     uint64
	closed      bool
	diskFailing bool
	keepSeries  bool // no stale markers on Close

	wake      chan struct{}
	stopping  chan struct{}
	runCtx    context.Context
	cancel    context.CancelFunc
	done      chan struct{}
	closeOnce sync.Once
	closeErr  error

	// failure log state, used by the sender goroutine only
	failingSince, lastFailLog time.Time
}

// entry is one buffered batch.
type entry struct {
	seq     uint64
	time    time.Time
	samples int
	size    int64
	body    []byte // nil when stored on disk at path
	path    string
	dropped bool // pushed out by a buffer bound
}

// New validates cfg (after setting defaults), builds the HTTP client,
// registers the metrics on reg (a fresh registry when nil), recovers a disk
// buffer when configured, and starts the sender goroutine.
func New(cfg Config, logger *slog.Logger, reg prometheus.Registerer) (*Writer, error) {
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("remote_write %s: %w", cfg.Name, err)
	}
	client, err := config.NewClientFromConfig(cfg.HTTPClientConfig, "remote_write")
	if err != nil {
		return nil, fmt.Errorf("remote_write %s: building HTTP client: %w", cfg.Name, err)
	}
	return newWriter(cfg, logger, reg, client)
}

func newWriter(cfg Config, logger *slog.Logger, reg prometheus.Registerer, client doer) (*Writer, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	m, err := newMetrics(cfg.Name, reg)
	if err != nil {
		return nil, fmt.Errorf("remote_write %s: registering metrics: %w", cfg.Name, err)
	}
	w := &Writer{
		cfg:      cfg,
		log:      logger.With("sender", "remote_write", "name", cfg.Name),
		client:   client,
		m:        m,
		minGap:   time.Duration(float64(time.Second) / cfg.MaxReplayRate),
		enc:      newEncoder(cfg),
		wake:     make(chan struct{}, 1),
		stopping: make(chan struct{}),
		done:     make(chan struct{}),
	}
	if cfg.Buffer.StoragePath != "" {
		if err := w.openStore(); err != nil {
			return nil, fmt.Errorf("remote_write %s: %w", cfg.Name, err)
		}
	}
	w.runCtx, w.cancel = context.WithCancel(context.Background())
	go w.run()
	return w, nil
}

func newEncoder(cfg Config) *Encoder {
	e := NewEncoder(cfg.ExternalLabels)
	e.shortest = cfg.LeQuantileFormat == FormatShortest
	return e
}

// openStore locks the buffer directory and queues what a previous run left.
func (w *Writer) openStore() error {
	s, err := openStore(w.cfg.Buffer.StoragePath)
	if err != nil {
		return err
	}
	good, bad, err := s.recover()
	if err != nil {
		s.close()
		return err
	}
	w.store = s
	for _, b := range bad {
		w.log.Warn("removed a corrupt batch file from the buffer", "file", b.name, "samples", b.samples)
		w.m.dropped.WithLabelValues(dropCorrupt).Add(float64(b.samples))
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	samples := 0
	for _, r := range good {
		w.queue = append(w.queue, &entry{seq: r.seq, time: r.time, samples: r.samples, size: r.size, path: r.path})
		w.bytes += r.size
		w.nextSeq = r.seq + 1
		samples += r.samples
	}
	w.trimLocked()
	w.gaugesLocked()
	if len(good) > 0 {
		w.log.Info("recovered buffered batches from disk", "batches", len(good), "samples", samples, "dir", s.dir)
	}
	return nil
}

// Name identifies the output, for example "remote_write http://vm:8428/api/v1/write".
// The errors of Send and Close do not repeat it: the caller (the loop)
// names the sender once.
func (w *Writer) Name() string { return "remote_write " + w.cfg.Name }

// Send encodes b into one write request and buffers it; delivery happens
// in the Writer's goroutine. It returns an error only when the batch could
// not be kept: the Writer is closed, or the batch alone exceeds
// buffer.max_bytes. Writing to the disk buffer is the only blocking work;
// when it fails (a full disk) the batch is kept in memory. The Writer
// keeps b until the next Send, for the stale markers on stop, so b must
// not be changed afterwards.
func (w *Writer) Send(ctx context.Context, b *batch.Batch) error {
	w.sendMu.Lock()
	defer w.sendMu.Unlock()
	body, samples := w.enc.Encode(b)
	e := &entry{time: b.Time, samples: samples, size: int64(len(body)), body: body}
	if e.size > int64(w.cfg.Buffer.MaxBytes) {
		w.m.dropped.WithLabelValues(dropTooLarge).Add(float64(samples))
		return fmt.Errorf("batch of %d bytes exceeds buffer.max_bytes %d", e.size, int64(w.cfg.Buffer.MaxBytes))
	}
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return ErrClosed
	}
	e.seq = w.nextSeq
	w.nextSeq++
	w.mu.Unlock()

	if w.store != nil {
		w.persist(e)
	}

	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		if e.path != "" {
			return nil // kept on disk for the next start
		}
		w.m.dropped.WithLabelValues(dropShutdown).Add(float64(samples))
		return ErrClosed
	}
	w.queue = append(w.queue, e)
	w.bytes += e.size
	w.last = b
	w.trimLocked()
	w.gaugesLocked()
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
	return nil
}

// persist writes e to the disk buffer; on failure e stays in memory.
func (w *Writer) persist(e *entry) {
	path, err := w.store.write(e.seq, e.time, e.samples, e.body)
	w.mu.Lock()
	changed := w.diskFailing != (err != nil)
	w.diskFailing = err != nil
	w.mu.Unlock()
	if err != nil {
		w.m.diskFallbacks.Inc()
		if changed {
			w.log.Warn("disk buffer write failed, keeping batches in memory", "err", err)
		}
		return
	}
	if changed {
		w.log.Info("disk buffer writable again")
	}
	e.path, e.body = path, nil
}

// trimLocked drops the oldest batches until both bounds hold. A batch in
// flight can be dropped too; if its request then succeeds it is counted
// as sent as well.
func (w *Writer) trimLocked() {
	maxBytes, maxBatches := int64(w.cfg.Buffer.MaxBytes), w.cfg.Buffer.MaxBatches
	for len(w.queue) > 0 && (w.bytes > maxBytes || (maxBatches > 0 && len(w.queue) > maxBatches)) {
		w.removeLocked(w.queue[0], dropBufferFull)
	}
}

// removeLocked takes e out of the queue; reason "" means delivered.
func (w *Writer) removeLocked(e *entry, reason string) {
	for i, q := range w.queue {
		if q == e {
			w.queue = append(w.queue[:i], w.queue[i+1:]...)
			break
		}
	}
	w.bytes -= e.size
	e.dropped = reason != ""
	if reason != "" {
		w.m.dropped.WithLabelValues(reason).Add(float64(e.samples))
	} else {
		w.m.sent.Add(float64(e.samples))
	}
	if e.path != "" {
		if err := w.store.remove(e.path); err != nil {
			w.log.Warn("removing a sent batch from the disk buffer failed", "err", err)
		}
	}
}

func (w *Writer) gaugesLocked() {
	w.m.batches.Set(float64(len(w.queue)))
	w.m.bytes.Set(float64(w.bytes))
	if len(w.queue) == 0 {
		w.m.oldest.Set(0)
	} else {
		w.m.oldest.Set(float64(w.queue[0].time.UnixMilli()) / 1000)
	}
}

// finish settles a batch after its request, unless a bound already
// dropped it.
func (w *Writer) finish(e *entry, reason string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if e.dropped {
		if reason == "" {
			w.m.sent.Add(float64(e.samples))
		}
		return
	}
	w.removeLocked(e, reason)
	w.gaugesLocked()
}

func (w *Writer) head() *entry {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.queue) == 0 {
		return nil
	}
	return w.queue[0]
}

// Close stops accepting batches and gives the buffered ones one bounded
// final try: each is sent once, oldest first, until one fails or ctx ends.
// When all are delivered, one more request ends every series of the last
// batch with a stale marker. Batches on disk stay there for the next
// start; batches only in memory are dropped, counted and reported in the
// error.
func (w *Writer) Close(ctx context.Context) error {
	w.closeOnce.Do(func() {
		w.mu.Lock()
		w.closed = true
		w.mu.Unlock()
		close(w.stopping)
		stop := context.AfterFunc(ctx, w.cancel)
		<-w.done
		stop()
		w.cancel()

		w.mu.Lock()
		lost, lostSamples, kept := 0, 0, 0
		for _, e := range w.queue {
			if e.path != "" {
				kept++
				continue
			}
			lost++
			lostSamples += e.samples
			w.m.dropped.WithLabelValues(dropShutdown).Add(float64(e.samples))
		}
		w.mu.Unlock()
		if kept > 0 {
			w.log.Info("batches left in the disk buffer for the next start", "batches", kept)
		}
		if w.store != nil {
			w.store.close()
		}
		if lost > 0 {
			w.closeErr = fmt.Errorf("%d batches (%d samples) not delivered before stop", lost, lostSamples)
		}
	})
	return w.closeErr
}

type outcome int

const (
	outcomeSent outcome = iota
	outcomeRetry
	outcomeDropped
)

// run delivers the buffer oldest first, at most MaxReplayRate requests
// per second, retrying the head with backoff; on stop it makes the final
// try.
func (w *Writer) run() {
	defer close(w.done)
	var last time.Time
	attempt := 0
	for {
		e := w.head()
		if e == nil {
			select {
			case <-w.wake:
				continue
			case <-w.stopping:
				w.final()
				return
			}
		}
		if !last.IsZero() {
			if wait := time.Until(last.Add(w.minGap)); wait > 0 && !w.sleep(wait) {
				w.final()
				return
			}
		}
		last = time.Now()
		res, retryAfter, err := w.attempt(e)
		if res != outcomeRetry {
			attempt = 0
			continue
		}
		w.m.retries.Inc()
		d := w.backoff(attempt, retryAfter)
		attempt++
		w.noteFailure(err, d)
		if !w.sleep(d) {
			w.final()
			return
		}
	}
}

// final sends each remaining batch once until one fails or Close's
// context ends (which cancels runCtx), then the stale markers.
func (w *Writer) final() {
	for {
		e := w.head()
		if e == nil {
			break
		}
		if w.runCtx.Err() != nil {
			return
		}
		if res, _, _ := w.attempt(e); res == outcomeRetry {
			return
		}
	}
	w.sendStaleMarkers()
}

func (w *Writer) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-w.stopping:
		return false
	}
}

// attempt sends e once and settles it unless the failure is retryable.
func (w *Writer) attempt(e *entry) (outcome, time.Duration, error) {
	body := e.body
	if body == nil {
		b, err := w.store.read(e.path)
		if err != nil {
			w.mu.Lock()
			gone := e.dropped
			w.mu.Unlock()
			if !gone {
				w.log.Warn("dropping an unreadable batch from the disk buffer", "file", e.path, "err", err)
			}
			w.finish(e, dropCorrupt)
			return outcomeDropped, 0, err
		}
		body = b
	}
	ctx, cancel := context.WithTimeout(w.runCtx, time.Duration(w.cfg.Timeout))
	defer cancel()
	status, retryAfter, err := w.post(ctx, body)
	switch {
	case err == nil:
		w.finish(e, "")
		w.m.lastSuccess.Set(float64(time.Now().UnixMilli()) / 1000)
		w.noteSuccess()
		return outcomeSent, 0, nil
	case status == http.StatusTooManyRequests || status >= 500 || status == 0:
		return outcomeRetry, retryAfter, err
	default:
		w.m.failed.Add(float64(e.samples))
		w.finish(e, dropRejected)
		w.log.Warn("receiver rejected a batch, dropped it", "samples", e.samples, "err", err)
		return outcomeDropped, 0, err
	}
}
