package node

import (
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// pass is one gather's run of the due collectors. A runner goroutine takes
// the collectors in order and runs each to the end; when no collector has
// finished for a stall period while some are still waiting, the gather
// starts another runner, so one that blocks (a hung mount, D-Bus) holds
// back only itself. At the deadline nothing more is started: what finished
// is sent, the rest is reported as failed.
type pass struct {
	units []*unit
	due   []int // indexes into units, in the order they run
	start time.Time
	done  chan struct{} // closed when every due collector finished

	mu       sync.Mutex
	next     int  // next position in due to start
	closed   bool // the gather is over: start nothing more
	finished int
	results  []runResult // by position in due
}

type runResult struct {
	started, finished bool
	begin             time.Time
	metrics           []prometheus.Metric
	err               error
	duration          float64
}

func newPass(units []*unit, due []int, start time.Time) *pass {
	return &pass{units: units, due: due, start: start, done: make(chan struct{}), results: make([]runResult, len(due))}
}

// wait runs the collectors until all finished or the deadline passed. The
// first runner is the Collector's home runner when it is idle (or was just
// started with p), else a new one; later ones, started on a stall, are new.
func (p *pass) wait(deadline time.Time, stall time.Duration, home chan<- *pass, handed bool) {
	if !handed {
		select {
		case home <- p:
		default: // still in a collector that outlived an earlier gather
			go p.runner()
		}
	}
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	tick := time.NewTicker(stall)
	defer tick.Stop()
	last := 0
	for {
		select {
		case <-p.done:
			return
		case <-timer.C:
			return
		case <-tick.C:
			p.mu.Lock()
			finished, waiting := p.finished, p.next < len(p.due)
			p.mu.Unlock()
			if finished == last && waiting {
				go p.runner()
			}
			last = finished
		}
	}
}

// runner runs due collectors one after another on a drain of its own.
func (p *pass) runner() {
	d := newDrain()
	defer d.close()
	p.run(d)
}

// homeRunner is the Collector's long-lived runner: it takes passes until
// passes is closed. A goroutine that lives across gathers keeps the stack
// its collectors grew (netlink's arp and tcpstat go deep), where a fresh
// one each gather starts small and copies its stack several times over
// (0.5-0.7 ms of a 9 ms cycle in a profile of a running hostpush).
func homeRunner(first *pass, passes <-chan *pass, done chan<- struct{}) {
	defer close(done)
	d := newDrain()
	defer d.close()
	first.run(d)
	for p := range passes {
		p.run(d)
	}
}

// run runs due collectors one after another until none is left or the
// gather is over. A run that outlives the gather still clears its unit's
// in-flight flag (and refreshes its cache) when it returns.
func (p *pass) run(d *drain) {
	for {
		p.mu.Lock()
		if p.closed || p.next >= len(p.due) {
			p.mu.Unlock()
			return
		}
		k := p.next
		p.next++
		begin := time.Now()
		p.results[k].started, p.results[k].begin = true, begin
		p.mu.Unlock()

		u := p.units[p.due[k]]
		metrics, err := d.update(u.updater)
		dur := time.Since(begin).Seconds()
		u.finishRun(p.start, metrics, err, dur)

		p.mu.Lock()
		p.results[k] = runResult{started: true, finished: true, begin: begin, metrics: metrics, err: err, duration: dur}
		p.finished++
		all := p.finished == len(p.due)
		p.mu.Unlock()
		if all {
			close(p.done)
		}
	}
}

// finishRun clears the in-flight flag and caches the values of a
// collector with an interval. start is the gather's start, so the next
// gather one interval later runs it again.
func (u *unit) finishRun(start time.Time, metrics []prometheus.Metric, err error, d float64) {
	u.mu.Lock()
	u.inFlight = false
	if u.interval > 0 {
		u.lastRun, u.cached, u.cachedOK, u.cachedD = start, metrics, err == nil, d
	}
	u.mu.Unlock()
}

// finish closes the pass and fills in the outcomes of the due collectors:
// finished ones with their result, the one still running and any not
// started as having missed the deadline.
func (p *pass) finish(outs []unitOutcome, timeout time.Duration) {
	p.mu.Lock()
	p.closed = true
	results := append([]runResult(nil), p.results...)
	p.mu.Unlock()
	for k, i := range p.due {
		r, u := results[k], p.units[i]
		switch {
		case r.finished:
			u.report(r.err)
			outs[i].metrics, outs[i].ok, outs[i].duration = r.metrics, r.err == nil, r.duration
		case r.started:
			u.report(fmt.Errorf("%w of %s", errTimeout, timeout))
			outs[i].duration = time.Since(r.begin).Seconds()
		default:
			// Never started: the runners were busy until the deadline.
			u.mu.Lock()
			u.inFlight = false
			u.mu.Unlock()
			u.report(fmt.Errorf("%w of %s (not started: the collectors before it took the time)", errTimeout, timeout))
		}
	}
}

// drain is a runner's channel for the collectors' Update and the goroutine
// that empties it, reused for every collector the runner runs: a marker
// sent after Update returns ends one collector's metrics.
type drain struct {
	ch  chan prometheus.Metric
	out chan []prometheus.Metric
}

// endOfRun is the marker; it is never sent on by a collector.
var endOfRun prometheus.Metric = &marker{}

type marker struct{ prometheus.Metric }

func newDrain() *drain {
	d := &drain{ch: make(chan prometheus.Metric, 64), out: make(chan []prometheus.Metric)}
	go d.loop()
	return d
}

func (d *drain) loop() {
	var metrics []prometheus.Metric
	for m := range d.ch {
		if m == endOfRun {
			d.out <- metrics
			metrics = nil
			continue
		}
		metrics = append(metrics, m)
	}
}

func (d *drain) update(u Updater) ([]prometheus.Metric, error) {
	err := u.Update(d.ch)
	d.ch <- endOfRun
	return <-d.out, err
}

func (d *drain) close() { close(d.ch) }
