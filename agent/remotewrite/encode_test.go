package remotewrite

import (
	"flag"
	"math"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/google/go-cmp/cmp"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/proto"

	"github.com/hostpush/hostpush/internal/batch"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

func counter(name string, v float64, labels ...string) *dto.MetricFamily {
	m := &dto.Metric{Counter: &dto.Counter{Value: proto.Float64(v)}}
	for i := 0; i+1 < len(labels); i += 2 {
		m.Label = append(m.Label, &dto.LabelPair{Name: proto.String(labels[i]), Value: proto.String(labels[i+1])})
	}
	return &dto.MetricFamily{Name: proto.String(name), Type: dto.MetricType_COUNTER.Enum(), Metric: []*dto.Metric{m}}
}

// TestEncodeGolden pins the series of a small batch that holds every
// metric type and the label rules: job and grouping labels override the
// metric's own, external labels do not, empty values vanish.
func TestEncodeGolden(t *testing.T) {
	gauge := &dto.MetricFamily{Name: proto.String("node_load1"), Type: dto.MetricType_GAUGE.Enum(),
		Metric: []*dto.Metric{{Gauge: &dto.Gauge{Value: proto.Float64(0.25)}}}}
	untyped := &dto.MetricFamily{Name: proto.String("node_scrape_collector_success"), Type: dto.MetricType_UNTYPED.Enum(),
		Metric: []*dto.Metric{{Untyped: &dto.Untyped{Value: proto.Float64(0)}, Label: []*dto.LabelPair{{Name: proto.String("collector"), Value: proto.String("cpu")}}}}}
	b := &batch.Batch{
		Time:     time.UnixMilli(1764190800123),
		Grouping: []batch.Label{{Name: "instance", Value: "web-1"}, {Name: "rack", Value: "r7"}},
		Groups: []batch.Group{
			{Job: "host-stats", Families: append([]*dto.MetricFamily{
				counter("node_cpu_seconds_total", 1234.5, "cpu", "0", "mode", "idle", "job", "spoofed", "dc", "own", "empty", ""),
				gauge, untyped}, histSummary(t)...)},
			{Job: "imageserver", Families: []*dto.MetricFamily{counter("imageserver_requests_total", 7, "code", "200")}},
		},
	}
	enc := NewEncoder(map[string]string{"dc": "eu1", "region": "west"})
	body, n := enc.Encode(b)
	ss := decodeBody(t, body)
	if n != len(ss) {
		t.Errorf("Encode says %d samples, the request holds %d series", n, len(ss))
	}
	var lines []string
	for _, s := range ss {
		lines = append(lines, s.String())
	}
	got := strings.Join(lines, "\n") + "\n"
	const golden = "testdata/encode.golden"
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if d := cmp.Diff(string(want), got); d != "" {
		t.Errorf("series differ from %s (-want +got):\n%s", golden, d)
	}
}

// TestEncodeRealGather checks the invariants receivers rely on, on a real
// gather: labels sorted and unique, __name__ set, job and instance on every
// series, one sample stamped with the batch time, and as many series as
// batch.CountSeries promises.
func TestEncodeRealGather(t *testing.T) {
	at := time.UnixMilli(1764190800000)
	b := testBatch(t, at, "host-a")
	b.Groups[0].Families = append(b.Groups[0].Families, histSummary(t)...)
	pb, n := NewEncoder(nil).Marshal(b)
	ss, err := decodeWriteRequest(pb)
	if err != nil {
		t.Fatal(err)
	}
	if n != len(ss) || n != b.Series() {
		t.Errorf("samples: Encode %d, decoded series %d, Batch.Series %d", n, len(ss), b.Series())
	}
	seen := map[string]bool{}
	for _, s := range ss {
		if !sort.SliceIsSorted(s.labels, func(i, j int) bool { return s.labels[i].Name < s.labels[j].Name }) {
			t.Fatalf("labels not sorted: %v", s)
		}
		for i := 1; i < len(s.labels); i++ {
			if s.labels[i].Name == s.labels[i-1].Name {
				t.Fatalf("label %s twice: %v", s.labels[i].Name, s)
			}
		}
		if s.label("__name__") == "" || s.label("job") != "host-stats" || s.label("instance") != "host-a" {
			t.Fatalf("series lacks __name__, job or instance: %v", s)
		}
		if len(s.samples) != 1 || s.samples[0].ts != at.UnixMilli() {
			t.Fatalf("want one sample at %d: %v", at.UnixMilli(), s)
		}
		key := s.String()
		if seen[key] {
			t.Fatalf("series twice: %v", s)
		}
		seen[key] = true
	}
	if n < 400 {
		t.Errorf("only %d series in the recorded gather; is testdata/gather.prom a real gather?", n)
	}
	body, _ := NewEncoder(nil).Encode(b)
	t.Logf("%d series: %d bytes protobuf, %d bytes snappy", n, len(pb), len(body))
	if raw, err := snappy.Decode(nil, body); err != nil || !slices.Equal(raw, pb) {
		t.Errorf("snappy body does not decode to the protobuf (err %v)", err)
	}
}

// TestFormatBound pins how le and quantile values are written: the
// canonical form Prometheus 3 stores for scraped classic histograms and
// summaries, and the shortest form Prometheus 2.x keeps. The receiver tests
// check the canonical form against a real Prometheus 3.
func TestFormatBound(t *testing.T) {
	for _, tc := range []struct {
		v                   float64
		canonical, shortest string
	}{
		{1, "1.0", "1"},
		{5, "5.0", "5"},
		{-1, "-1.0", "-1"},
		{0, "0.0", "0"},
		{math.Copysign(0, -1), "0.0", "-0"},
		{100000, "100000.0", "100000"},
		{0.005, "0.005", "0.005"},
		{0.30000000000000004, "0.30000000000000004", "0.30000000000000004"},
		{2.5, "2.5", "2.5"},
		{1e-05, "1e-05", "1e-05"},
		{1e6, "1e+06", "1e+06"},
		{123456789, "1.23456789e+08", "1.23456789e+08"},
		{1.5e300, "1.5e+300", "1.5e+300"},
		{math.MaxFloat64, "1.7976931348623157e+308", "1.7976931348623157e+308"},
		{5e-324, "5e-324", "5e-324"},
		{math.Inf(+1), "+Inf", "+Inf"},
		{math.Inf(-1), "-Inf", "-Inf"},
		{math.NaN(), "NaN", "NaN"},
	} {
		if got := canonicalFloat(tc.v); got != tc.canonical {
			t.Errorf("canonical %v: %q, want %q", tc.v, got, tc.canonical)
		}
		if got := formatFloat(tc.v); got != tc.shortest {
			t.Errorf("shortest %v: %q, want %q", tc.v, got, tc.shortest)
		}
	}
}

// FuzzCanonicalFloat checks the canonical form's invariants for any
// float64: it parses back to the same value, and it always shows a
// fraction, an exponent, or is Inf or NaN.
func FuzzCanonicalFloat(f *testing.F) {
	for _, v := range []float64{1, -1, 0, 0.005, 1e-05, 1e6, 1.5e300, math.Inf(1)} {
		f.Add(math.Float64bits(v))
	}
	f.Fuzz(func(t *testing.T, bits uint64) {
		v := math.Float64frombits(bits)
		s := canonicalFloat(v)
		back, err := strconv.ParseFloat(s, 64)
		if err != nil || (back != v && !(math.IsNaN(v) && math.IsNaN(back))) {
			t.Fatalf("canonicalFloat(%v) = %q parses to %v, %v", v, s, back, err)
		}
		if !strings.ContainsAny(s, ".e") && s != "+Inf" && s != "-Inf" && s != "NaN" {
			t.Fatalf("canonicalFloat(%v) = %q has neither a fraction nor an exponent", v, s)
		}
	})
}

// TestEncodeShortest checks that the encoder uses the form it is set to.
func TestEncodeShortest(t *testing.T) {
	b := &batch.Batch{Time: time.UnixMilli(1), Grouping: []batch.Label{{Name: "instance", Value: "h"}},
		Groups: []batch.Group{{Job: "j", Families: histSummary(t)}}}
	les := func(e *Encoder) []string {
		body, _ := e.Encode(b)
		var out []string
		for _, s := range decodeBody(t, body) {
			if v := s.label("le") + s.label("quantile"); v != "" {
				out = append(out, v)
			}
		}
		sort.Strings(out)
		return slices.Compact(out)
	}
	canonical := NewEncoder(nil)
	shortest := NewEncoder(nil)
	shortest.shortest = true
	if got, want := les(canonical), []string{"+Inf", "-1.0", "0.0", "0.005", "0.25", "0.5", "0.99", "1.0", "1.5e+300", "100000.0", "1e+06", "1e-05", "5.0"}; !slices.Equal(got, want) {
		t.Errorf("canonical le/quantile values %q, want %q", got, want)
	}
	if got, want := les(shortest), []string{"+Inf", "-1", "0", "0.005", "0.25", "0.5", "0.99", "1", "1.5e+300", "100000", "1e+06", "1e-05", "5"}; !slices.Equal(got, want) {
		t.Errorf("shortest le/quantile values %q, want %q", got, want)
	}
}

// TestEncodeStale checks the stop request: the same series as the batch,
// each with one stale marker (Prometheus' StaleNaN bit pattern) at the
// given time.
func TestEncodeStale(t *testing.T) {
	b := testBatch(t, time.UnixMilli(1764190800000), "host-a")
	b.Groups[0].Families = append(b.Groups[0].Families, histSummary(t)...)
	enc := NewEncoder(map[string]string{"dc": "eu1"})
	body, n := enc.Encode(b)
	normal := decodeBody(t, body)
	at := b.Time.Add(1500 * time.Millisecond)
	body, ns := enc.EncodeStale(b, at)
	stale := decodeBody(t, body)
	if ns != n || len(stale) != len(normal) {
		t.Fatalf("stale request: %d series (says %d), the batch has %d", len(stale), ns, len(normal))
	}
	for i, s := range stale {
		if !slices.Equal(s.labels, normal[i].labels) {
			t.Fatalf("stale series %d labels %v, want %v", i, s.labels, normal[i].labels)
		}
		if len(s.samples) != 1 || math.Float64bits(s.samples[0].value) != 0x7ff0000000000002 || s.samples[0].ts != at.UnixMilli() {
			t.Fatalf("stale series %v: want one sample with bits 0x7ff0000000000002 at %d", s, at.UnixMilli())
		}
	}
	// The encoder is back to normal afterwards.
	if again, _ := enc.Encode(b); !slices.Equal(decodeBody(t, again)[0].labels, normal[0].labels) || decodeBody(t, again)[0].samples[0] != normal[0].samples[0] {
		t.Error("Encode after EncodeStale differs from before")
	}
}

func BenchmarkEncode(b *testing.B) {
	batch := testBatch(b, time.Now(), "host-a")
	enc := NewEncoder(map[string]string{"dc": "eu1"})
	for b.Loop() {
		enc.Encode(batch)
	}
}
