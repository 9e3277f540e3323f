package agent

import (
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/proto"
)

// blockingGatherer counts its gathers; each waits for release when set.
type blockingGatherer struct {
	calls   atomic.Int64
	release chan struct{}
}

func (g *blockingGatherer) Gather() ([]*dto.MetricFamily, error) {
	n := g.calls.Add(1)
	if g.release != nil {
		<-g.release
	}
	return []*dto.MetricFamily{
		{Name: proto.String("go_goroutines")},
		{Name: proto.String("node_gather"), Help: proto.String(string(rune('0' + n)))},
	}, nil
}

func TestSharedGatherOneAtATime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		inner := &blockingGatherer{release: make(chan struct{})}
		s := NewSharedGatherer(inner)
		const callers = 10
		results := make([][]*dto.MetricFamily, callers)
		var wg sync.WaitGroup
		for i := range callers {
			wg.Go(func() {
				fams, err := s.Gather()
				if err != nil {
					t.Error(err)
				}
				results[i] = fams
			})
		}
		synctest.Wait() // all callers are in Gather: one runs, the rest wait
		close(inner.release)
		wg.Wait()
		if n := inner.calls.Load(); n != 1 {
			t.Fatalf("%d callers during one gather made %d gathers, want 1", callers, n)
		}
		for i, r := range results {
			if len(r) != 1 || r[0].GetName() != "node_gather" || &r[0] != &results[0][0] {
				t.Fatalf("caller %d got %v, want the one shared result without go_*", i, r)
			}
		}
		// A call after the gather ended starts a new one.
		inner.release = nil
		fams, _ := s.Gather()
		if inner.calls.Load() != 2 || fams[0].GetHelp() != "2" {
			t.Fatalf("after the shared gather: %d gathers, help %q; want a second gather", inner.calls.Load(), fams[0].GetHelp())
		}
	})
}

// Callers share the slice DropGo returns, so it must not change its input.
func TestDropGoLeavesInputAlone(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewGoCollector())
	NewMetrics(reg)
	fams, _ := reg.Gather()
	before := slices.Clone(fams)
	_ = DropGo(fams)
	if !slices.Equal(before, fams) {
		t.Fatal("DropGo changed the slice it was given")
	}
	if out := DropGo(before[len(before)-2:]); len(out) != 2 {
		t.Fatalf("families without go_* should come back as they are, got %d", len(out))
	}
}
