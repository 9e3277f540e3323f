package remotewrite

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/prometheus/common/config"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/hostpush/hostpush/internal/batch"
)

// TestStaleMarkersOnClose checks the stop request: after the buffer
// drained, one request ends every series of the last batch with a stale
// marker, later than its samples; none when batches are left undelivered
// (it would put them out of order) or after KeepSeriesOnClose.
func TestStaleMarkersOnClose(t *testing.T) {
	run := func(t *testing.T, down, keep bool) (*receiver, *batch.Batch) {
		var rcv *receiver
		var last *batch.Batch
		synctest.Test(t, func(t *testing.T) {
			cfg := testConfig()
			cfg.MinBackoff, cfg.MaxBackoff = mdur(time.Hour), mdur(time.Hour)
			rcv = &receiver{status: func(int) (int, []string) {
				if down {
					return http.StatusServiceUnavailable, nil
				}
				return http.StatusNoContent, nil
			}}
			w, _ := startWriter(t, cfg, rcv)
			if keep {
				w.KeepSeriesOnClose()
			}
			w.Send(t.Context(), smallBatch(time.Now(), 0))
			last = testBatch(t, time.Now(), "h1")
			w.Send(t.Context(), last)
			synctest.Wait()
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
			defer cancel()
			w.Close(ctx)
		})
		return rcv, last
	}
	t.Run("delivered", func(t *testing.T) {
		rcv, last := run(t, false, false)
		if len(rcv.stale) != last.Series() {
			t.Fatalf("%d stale markers, want one per series of the last batch (%d)", len(rcv.stale), last.Series())
		}
		for _, s := range rcv.stale {
			if s.label("instance") != "h1" || s.label("job") != "host-stats" || s.samples[0].ts <= last.Time.UnixMilli() {
				t.Fatalf("stale marker %v: want job, instance and a timestamp after the last sample (%d)", s, last.Time.UnixMilli())
			}
		}
		if slices.ContainsFunc(rcv.stale, func(s series) bool { return s.label("__name__") == "seq_total" }) {
			t.Error("stale marker for seq_total, which only an older batch had")
		}
	})
	t.Run("receiver down", func(t *testing.T) {
		if rcv, _ := run(t, true, false); len(rcv.stale) != 0 || len(rcv.times) != 2 {
			t.Errorf("%d requests (%d stale markers) with the receiver down; want the first try and the final one, both failed", len(rcv.times), len(rcv.stale))
		}
	})
	t.Run("KeepSeriesOnClose", func(t *testing.T) {
		if rcv, _ := run(t, false, true); len(rcv.stale) != 0 || len(rcv.values) != 1 {
			t.Errorf("%d stale markers, %d batches; want none and 1", len(rcv.stale), len(rcv.values))
		}
	})
}

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
			want := batch.CountSeries(fams)
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
					b := &batch.Batch{Time: start.Add(time.Duration(i) * time.Second), Grouping: []batch.Label{{Name: "instance", Value: instance}},
						Groups: []batch.Group{{Job: "host-stats", Families: fams}}}
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

// TestSameSeries: only the url, external_labels and le_quantile_format
// decide whether two outputs write the same series.
func TestSameSeries(t *testing.T) {
	base := func() Config {
		c := DefaultConfig()
		c.URL, c.ExternalLabels = "http://127.0.0.1:8428/api/v1/write", map[string]string{"region": "a"}
		c.SetDefaults()
		return c
	}
	for _, tc := range []struct {
		name   string
		change func(c *Config)
		same   bool
	}{
		{"unchanged", func(c *Config) {}, true},
		{"timeout, buffer and name", func(c *Config) {
			c.Timeout, c.Buffer.MaxBatches, c.Buffer.StoragePath, c.Name = mdur(time.Second), 5, "/var/lib/x", "other"
		}, true},
		{"labels equal, map rebuilt", func(c *Config) { c.ExternalLabels = map[string]string{"region": "a"} }, true},
		{"url", func(c *Config) { c.URL = "http://127.0.0.1:9090/api/v1/write" }, false},
		{"label value", func(c *Config) { c.ExternalLabels = map[string]string{"region": "b"} }, false},
		{"label added", func(c *Config) { c.ExternalLabels["dc"] = "x" }, false},
		{"labels removed", func(c *Config) { c.ExternalLabels = nil }, false},
		{"le_quantile_format", func(c *Config) { c.LeQuantileFormat = FormatShortest }, false},
		{"tenant header", func(c *Config) {
			c.HTTPClientConfig.HTTPHeaders = &config.Headers{Headers: map[string]config.Header{"X-Scope-OrgID": {Values: []string{"team-b"}}}}
		}, false},
		{"basic_auth user", func(c *Config) { c.HTTPClientConfig.BasicAuth = &config.BasicAuth{Username: "team-b"} }, false},
		{"basic_auth password only", func(c *Config) {
			c.HTTPClientConfig.BasicAuth = &config.BasicAuth{Password: "rotated"}
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := base()
			tc.change(&c)
			if got := base().SameSeries(c); got != tc.same {
				t.Errorf("SameSeries = %v, want %v", got, tc.same)
			}
		})
	}
}
