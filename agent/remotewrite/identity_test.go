package remotewrite

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/hostpush/hostpush/internal/batch"
	"github.com/hostpush/hostpush/internal/procs"
)

// gatewayPath is one Prometheus release scraping one Pushgateway release,
// and the le_quantile_format that gives the same series by remote_write.
type gatewayPath struct {
	name        string
	pushgateway func(t *testing.T, addr string) *procs.Proc
	prometheus  string // server kind
	same, other string // le_quantile_format that matches, and the one that does not
}

func debianPushgateway(t *testing.T, addr string) *procs.Proc {
	p, err := procs.StartPushgateway(t.Context(), addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func pushgateway111(t *testing.T, addr string) *procs.Proc {
	p, err := procs.StartPushgateway111(t.Context(), addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestSameSeriesAsPushgateway pushes one real gather (plus a histogram and
// summaries whose bounds cover every form le and quantile take) through a
// real Pushgateway scraped by a real Prometheus with honor_labels, and the
// same gather by remote_write into that Prometheus and VictoriaMetrics. It
// requires identical series, job and instance included, so dashboards work
// unchanged on either path, with the le_quantile_format that matches the
// Prometheus release (canonical "1.0" on 3.x, shortest "1" on 2.x); with
// the other format the series must differ in the form of le and quantile
// only, which is what an operator who picks the other one sees.
func TestSameSeriesAsPushgateway(t *testing.T) {
	t.Parallel()
	for _, p := range []gatewayPath{
		{"prometheus-2.42/pushgateway-1.5.1", debianPushgateway, "prometheus", FormatShortest, FormatCanonical},
		{"prometheus-" + procs.Prometheus3Version + "/pushgateway-" + procs.Pushgateway111Version, pushgateway111, "prometheus3", FormatCanonical, FormatShortest},
	} {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			sameSeries(t, p)
		})
	}
}

func sameSeries(t *testing.T, p gatewayPath) {
	pgAddr, err := procs.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	pg := p.pushgateway(t, pgAddr)
	t.Cleanup(func() { pg.Stop(5 * time.Second) })
	prom := newScrapingServer(t, p.prometheus, pgAddr)
	vm := newServer(t, "victoria-metrics")

	fams := append(loadGather(t), histSummary(t)...)
	putGroup(t, pgAddr, fams)
	mkBatch := func(instance string) *batch.Batch {
		return &batch.Batch{Time: time.Now(), Grouping: []batch.Label{{Name: "instance", Value: instance}},
			Groups: []batch.Group{{Job: "host-stats", Families: fams}}}
	}
	for _, out := range []struct {
		s        *server
		format   string
		instance string
	}{{prom, p.same, "via-remote-write"}, {vm, p.same, "via-remote-write"}, {prom, p.other, "via-remote-write-" + p.other}} {
		cfg := testConfig()
		cfg.URL, cfg.Name, cfg.LeQuantileFormat = out.s.writeURL(), out.s.kind+" "+out.format, out.format
		w, err := New(cfg, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		w.KeepSeriesOnClose() // queried below by instant queries
		b := mkBatch(out.instance)
		if err := w.Send(t.Context(), b); err != nil {
			t.Fatal(err)
		}
		closeWriter(t, w)
		if got := testutil.ToFloat64(w.m.sent); int(got) != b.Series() {
			t.Fatalf("%s accepted %v samples, want %d", cfg.Name, got, b.Series())
		}
	}

	want := gatewaySeries(t, prom, "via-pushgateway", mkBatch("").Series())
	for _, s := range []*server{prom, vm} {
		got := instanceSeries(s, "via-remote-write")
		if missing, extra := diffSets(want, got); len(missing)+len(extra) > 0 {
			t.Errorf("%s, le_quantile_format %s: series differ from the Pushgateway path: %d missing (e.g. %v), %d extra (e.g. %v)",
				s.kind, p.same, len(missing), first(missing), len(extra), first(extra))
		}
	}
	other := instanceSeries(prom, "via-remote-write-"+p.other)
	missing, _ := diffSets(want, other)
	if m, e := diffSets(normalizeBounds(want), normalizeBounds(other)); len(m)+len(e) > 0 || len(missing) == 0 {
		t.Errorf("le_quantile_format %s on %s: want series that differ from the Pushgateway path in the form of le and quantile only; %d differ, and after normalizing le and quantile %d missing (e.g. %v), %d extra (e.g. %v)",
			p.other, p.prometheus, len(missing), len(m), first(m), len(e), first(e))
	}
	// Where hosts send different forms (a fleet moving from one to the
	// other), histogram_quantile over sum by (le) still merges the buckets
	// of equal bounds: the quantile over both equals that over one.
	q := `histogram_quantile(0.5, sum by (le) (test_duration_seconds_bucket{instance=~"%s"}))`
	one, both := prom.scalar(fmt.Sprintf(q, "via-remote-write")), prom.scalar(fmt.Sprintf(q, "via-remote-write.*"))
	if one != both || one != 0.2525 {
		t.Errorf("%s: histogram_quantile over hosts with both forms = %v, over one host %v; want both 0.2525", p.prometheus, both, one)
	}
	t.Logf("%d series identical through the Pushgateway and remote_write (le_quantile_format %s) to %s and VictoriaMetrics; with %s, %d of them differ in the form of le or quantile (e.g. %v)",
		len(want), p.same, p.prometheus, p.other, len(missing), first(missing))
}

// putGroup PUTs fams to the Pushgateway as the group of job host-stats,
// instance via-pushgateway, as hostpush's Pushgateway sender does.
func putGroup(t *testing.T, addr string, fams []*dto.MetricFamily) {
	t.Helper()
	var body bytes.Buffer
	enc := expfmt.NewEncoder(&body, expfmt.NewFormat(expfmt.TypeProtoDelim))
	for _, f := range fams {
		if err := enc.Encode(f); err != nil {
			t.Fatal(err)
		}
	}
	req, _ := http.NewRequest(http.MethodPut, "http://"+addr+"/metrics/job/host-stats/instance/via-pushgateway", &body)
	req.Header.Set("Content-Type", string(expfmt.NewFormat(expfmt.TypeProtoDelim)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("PUT to the Pushgateway: %s", resp.Status)
	}
}

// gatewaySeries waits until Prometheus scraped the whole group from the
// Pushgateway and returns its series, without the push_time_seconds and
// push_failure_time_seconds the gateway adds to each group.
func gatewaySeries(t *testing.T, prom *server, instance string, want int) []string {
	t.Helper()
	var got []string
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		got = nil
		for _, k := range instanceSeries(prom, instance) {
			if !strings.HasPrefix(k, `__name__="push_time_seconds"`) && !strings.HasPrefix(k, `__name__="push_failure_time_seconds"`) {
				got = append(got, k)
			}
		}
		if len(got) >= want {
			break
		}
	}
	if len(got) != want {
		t.Fatalf("%s scraped %d series of the group from the Pushgateway, want %d", prom.kind, len(got), want)
	}
	return got
}

// instanceSeries returns the label keys of instance's series with the
// instance value replaced by INSTANCE, so paths can be compared.
func instanceSeries(s *server, instance string) []string {
	var out []string
	for _, k := range s.series(`{instance="` + instance + `"}`) {
		out = append(out, strings.ReplaceAll(k, `instance="`+instance+`"`, `instance="INSTANCE"`))
	}
	return out
}

// normalizeBounds rewrites the le and quantile values of label keys in
// the canonical form, to show that two sets differ in that form only.
func normalizeBounds(keys []string) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		for _, name := range []string{"le", "quantile"} {
			prefix := "," + name + `="`
			start := strings.Index(k, prefix)
			if start < 0 {
				continue
			}
			start += len(prefix)
			end := start + strings.IndexByte(k[start:], '"')
			if f, err := strconv.ParseFloat(k[start:end], 64); err == nil {
				k = k[:start] + canonicalFloat(f) + k[end:]
			}
		}
		out[i] = k
	}
	return out
}

func diffSets(want, got []string) (missing, extra []string) {
	w := map[string]bool{}
	for _, k := range want {
		w[k] = true
	}
	g := map[string]bool{}
	for _, k := range got {
		g[k] = true
		if !w[k] {
			extra = append(extra, k)
		}
	}
	for _, k := range want {
		if !g[k] {
			missing = append(missing, k)
		}
	}
	return missing, extra
}

func first(s []string) []string { return s[:min(len(s), 2)] }

// scalar runs an instant query that returns one sample and returns its
// value (NaN when the result is not exactly one sample).
func (s *server) scalar(q string) float64 {
	s.t.Helper()
	var r struct {
		Data struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(s.get("/api/v1/query", url.Values{"query": {q}}), &r); err != nil {
		s.t.Fatal(err)
	}
	if len(r.Data.Result) != 1 {
		return math.NaN()
	}
	str, _ := r.Data.Result[0].Value[1].(string)
	v, err := strconv.ParseFloat(str, 64)
	if err != nil {
		return math.NaN()
	}
	return v
}
