package agent

import (
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// SharedGatherer runs one gather at a time. A caller that comes while a
// gather runs waits for it and gets its result rather than starting a
// second one: the loop's tick and scrapes of /metrics share gathers, so a
// scrape never makes collectors overlap (which would report them as still
// in flight and drop their series from the push). go_* families are
// dropped once here (see DropGo).
//
// Every caller of one gather gets the same families: they must not
// change them.
type SharedGatherer struct {
	next prometheus.Gatherer

	mu  sync.Mutex
	cur *flight // the gather running now, nil when none
}

// flight is one gather and its result, valid once done is closed.
type flight struct {
	done chan struct{}
	fams []*dto.MetricFamily
	err  error
}

var _ prometheus.Gatherer = (*SharedGatherer)(nil)

// NewSharedGatherer shares the gathers of g.
func NewSharedGatherer(g prometheus.Gatherer) *SharedGatherer {
	return &SharedGatherer{next: g}
}

// Gather implements prometheus.Gatherer. It is safe for concurrent use.
func (s *SharedGatherer) Gather() ([]*dto.MetricFamily, error) {
	s.mu.Lock()
	if f := s.cur; f != nil {
		s.mu.Unlock()
		<-f.done
		return f.fams, f.err
	}
	f := &flight{done: make(chan struct{})}
	s.cur = f
	s.mu.Unlock()

	defer func() {
		s.mu.Lock()
		s.cur = nil
		s.mu.Unlock()
		close(f.done)
	}()
	fams, err := s.next.Gather()
	f.fams, f.err = DropGo(fams), err
	return f.fams, f.err
}

// DropGo returns fams without go_* families: they would collide with the
// Pushgateway's own. hostpush registers no Go collector; this guards
// against a collector that brings some. fams is not changed: without go_*
// families it is returned as it is, else a new slice is.
func DropGo(fams []*dto.MetricFamily) []*dto.MetricFamily {
	i := 0
	for i < len(fams) && !strings.HasPrefix(fams[i].GetName(), "go_") {
		i++
	}
	if i == len(fams) {
		return fams
	}
	out := append(make([]*dto.MetricFamily, 0, len(fams)-1), fams[:i]...)
	for _, f := range fams[i+1:] {
		if !strings.HasPrefix(f.GetName(), "go_") {
			out = append(out, f)
		}
	}
	return out
}
