package remotewrite

import (
	"encoding/json"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/hostpush/hostpush/agent"
)

// TestStaleMarkersOnStop pushes a few gathers to each real receiver,
// closes the Writer as hostpush does on a clean stop, and asks for the
// instance's series with an instant query right after. On Prometheus the
// stale markers end them at once; without the markers they would stay for
// the 5-minute lookback. VictoriaMetrics 1.79.5 stores the markers too:
// its instant query no longer returns the series either.
func TestStaleMarkersOnStop(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"prometheus", "prometheus3", "victoria-metrics"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			srv := newServer(t, kind)
			fams := loadGather(t)
			want := agent.CountSeries(fams)
			// Two outputs push the same gathers; the control keeps its
			// series on Close, to show it is the markers that end them.
			run := func(instance string, keep bool) string {
				cfg := testConfig()
				cfg.URL = srv.writeURL()
				w, err := New(cfg, nil, nil)
				if err != nil {
					t.Fatal(err)
				}
				if keep {
					w.KeepSeriesOnClose()
				}
				start := time.Now().Add(-3 * time.Second)
				for i := range 3 {
					b := &agent.Batch{Time: start.Add(time.Duration(i) * time.Second), Grouping: []agent.Label{{Name: "instance", Value: instance}},
						Groups: []agent.Group{{Job: "host-stats", Families: fams}}}
					if err := w.Send(t.Context(), b); err != nil {
						t.Fatal(err)
					}
				}
				selector := fmt.Sprintf(`{instance=%q}`, instance)
				if n := waitInstant(t, srv, selector, want); n != want {
					t.Fatalf("%s: %d of %d series visible before the stop", kind, n, want)
				}
				closeWriter(t, w)
				return selector
			}
			stopped := run(fmt.Sprintf("stale-%d", time.Now().UnixNano()), false)
			control := run(fmt.Sprintf("kept-%d", time.Now().UnixNano()), true)
			if n := waitInstant(t, srv, stopped, 0); n != 0 {
				t.Fatalf("%s: an instant query right after the stop returns %d of the %d series; the stale markers should have ended them", kind, n, want)
			}
			if n := srv.instant(control); n != want {
				t.Fatalf("%s: the control output without stale markers shows %d of %d series right after its stop, want all (else this test proves nothing)", kind, n, want)
			}
			if n := len(srv.series(stopped)); n != want {
				t.Errorf("%s: %d series stored for the instance, want %d (the stale markers end them, they do not delete them)", kind, n, want)
			}
			t.Logf("%s: %d series visible before the stop, none by an instant query right after it (all %d of the control without markers)", kind, want, want)
		})
	}
}

// waitInstant runs an instant query for selector until it returns want
// series or 10 s pass (receivers make writes searchable after a short
// delay), and returns the last count.
func waitInstant(t *testing.T, s *server, selector string, want int) int {
	t.Helper()
	n := -1
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		n = s.instant(selector)
		if n == want || time.Now().After(deadline) {
			return n
		}
	}
}

// instant returns how many series an instant query for selector returns
// now.
func (s *server) instant(selector string) int {
	s.t.Helper()
	if s.kind == "victoria-metrics" {
		s.get("/internal/force_flush", nil)
	}
	body := s.get("/api/v1/query", url.Values{"query": {selector}, "time": {fmt.Sprintf("%.3f", float64(time.Now().UnixMilli())/1000)}})
	var r struct {
		Data struct {
			Result []json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		s.t.Fatalf("%s: %v in %s", s.kind, err, body)
	}
	return len(r.Data.Result)
}
