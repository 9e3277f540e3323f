// Package batch holds the types that hostpush's sources, its push loop and
// its senders exchange: a Batch of Groups gathered on one tick, and the
// Sender interface. It imports nothing of hostpush, so collectors and
// senders can use it without depending on the loop (package agent).
package batch

import (
	"context"
	"math"
	"time"

	dto "github.com/prometheus/client_model/go"
)

// Batch is the result of one gather: every group of metric families that one
// tick produced, all stamped with the same gather time.
type Batch struct {
	// Time is when the gather started. Pushgateway pushes carry no timestamp;
	// remote_write stamps every sample with it.
	Time time.Time
	// Grouping holds the labels shared by every group besides job:
	// instance first, then any extra grouping labels, as configured.
	Grouping []Label
	// Groups holds the host group first, then one group per scrape target.
	Groups []Group
}

// Group is one Pushgateway group: the families pushed under one job.
type Group struct {
	Job      string
	Families []*dto.MetricFamily
}

// Label is one grouping label.
type Label struct {
	Name, Value string
}

// Series counts the samples of all groups in the batch, one per series
// (a histogram counts as its buckets plus sum and count).
func (b *Batch) Series() int {
	n := 0
	for _, g := range b.Groups {
		n += CountSeries(g.Families)
	}
	return n
}

// CountSeries counts the series the families expose.
func CountSeries(fams []*dto.MetricFamily) int {
	n := 0
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			switch {
			case m.Histogram != nil:
				// buckets, sum, count, and +Inf unless a parsed exposition
				// already listed it as a bucket
				n += len(m.Histogram.GetBucket()) + 2
				if b := m.Histogram.GetBucket(); len(b) == 0 || !math.IsInf(b[len(b)-1].GetUpperBound(), +1) {
					n++
				}
			case m.Summary != nil:
				n += len(m.Summary.GetQuantile()) + 2
			default:
				n++
			}
		}
	}
	return n
}

// Sender delivers batches to one destination.
//
// Send is called from the loop with at most one call in flight per Sender;
// it must return by the deadline of ctx. An error means this batch was not
// (fully) delivered; senders that buffer and retry (remote_write) report
// only what they could not keep. Close is called once, after the last Send,
// on a clean stop; it may make a final bounded attempt to deliver pending
// data before ctx ends.
type Sender interface {
	// Name identifies the sender in logs, status text and metric labels,
	// for example "pushgateway http://localhost:9091".
	Name() string
	Send(ctx context.Context, b *Batch) error
	Close(ctx context.Context) error
}

// Source contributes groups besides the host group on each tick, for
// example co-located scrape targets. Gather must return by ctx's deadline;
// it is not called concurrently with itself.
type Source interface {
	Gather(ctx context.Context) []Group
}
