package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// progress prints one self-overwriting status line per second.
type progress struct {
	w      io.Writer
	c      *config
	start  time.Time
	last   time.Time
	n, ok  int
	window []time.Duration // latencies since the last line
}

func newProgress(w io.Writer, c *config, start time.Time) *progress {
	return &progress{w: w, c: c, start: start, last: start}
}

func (p *progress) add(r *vegeta.Result) {
	p.n++
	if r.Code >= 200 && r.Code < 400 {
		p.ok++
	}
	p.window = append(p.window, r.Latency)
	if p.c.NoProgress || time.Since(p.last) < time.Second {
		return
	}
	p.print()
}

func (p *progress) print() {
	p.last = time.Now()
	slices.Sort(p.window)
	fmt.Fprintf(p.w, "\r[%3.0fs/%s] %d done, %.1f%% ok, last second: p50 %s p99 %s    ",
		time.Since(p.start).Seconds(), p.c.Duration, p.n, 100*float64(p.ok)/float64(max(p.n, 1)),
		quantile(p.window, 0.5).Round(time.Millisecond/10), quantile(p.window, 0.99).Round(time.Millisecond/10))
	p.window = p.window[:0]
}

func (p *progress) done() {
	if !p.c.NoProgress {
		p.print()
		fmt.Fprintln(p.w)
	}
}

// quantile is the nearest-rank quantile of sorted latencies.
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}
