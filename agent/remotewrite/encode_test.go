package remotewrite

import (
	"flag"
	"os"
	"slices"
	"sort"
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

func BenchmarkEncode(b *testing.B) {
	batch := testBatch(b, time.Now(), "host-a")
	enc := NewEncoder(map[string]string{"dc": "eu1"})
	for b.Loop() {
		enc.Encode(batch)
	}
}
