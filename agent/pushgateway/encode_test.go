package pushgateway

import (
	"bytes"
	"errors"
	"io"
	"math"
	"os"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// encodeFamilies is what the pusher sends for a group.
func encodeFamilies(fams []*dto.MetricFamily) []byte {
	var b []byte
	for _, f := range fams {
		b = AppendDelimited(b, f)
	}
	return b
}

// reference is expfmt's delimited protobuf encoding (proto.Marshal), what
// the pusher sent before it encoded with protowire.
func reference(t testing.TB, fams []*dto.MetricFamily) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeProtoDelim))
	for _, f := range fams {
		if err := enc.Encode(f); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

func decode(t *testing.T, b []byte) []*dto.MetricFamily {
	t.Helper()
	dec := expfmt.NewDecoder(bytes.NewReader(b), expfmt.NewFormat(expfmt.TypeProtoDelim))
	var out []*dto.MetricFamily
	for {
		f := &dto.MetricFamily{}
		if err := dec.Decode(f); errors.Is(err, io.EOF) {
			return out
		} else if err != nil {
			t.Fatalf("decoding our encoding: %v", err)
		}
		out = append(out, f)
	}
}

// everyKind gathers a registry holding every metric type client_golang
// makes, with exemplars, created timestamps, native histogram buckets on
// both sides, special characters in label values and help, a UTF-8 name
// that needs escaping, and the process collector's real values.
func everyKind(t *testing.T) []*dto.MetricFamily {
	t.Helper()
	reg := prometheus.NewRegistry()
	ctr := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "t_requests_total", Help: "Requests, \"quoted\"\nand ünïcode."}, []string{"code", "path"})
	ctr.WithLabelValues("200", "/a b\\c").Add(3)
	ctr.WithLabelValues("500", "").(prometheus.ExemplarAdder).AddWithExemplar(1.5, prometheus.Labels{"trace_id": "abc"})
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "t_temperature", Help: "Gauge.", ConstLabels: prometheus.Labels{"zone": "a"}})
	g.Set(-273.15)
	h := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "t_latency_seconds", Help: "Both bucket kinds.", Buckets: []float64{0.1, 1, 10},
		NativeHistogramBucketFactor: 1.1,
	})
	for _, v := range []float64{-3, -0.5, 0, 0.05, 0.7, 2, 20, math.Inf(1)} {
		h.Observe(v)
	}
	h.(prometheus.ExemplarObserver).ObserveWithExemplar(0.3, prometheus.Labels{"trace_id": "def"})
	s := prometheus.NewSummary(prometheus.SummaryOpts{Name: "t_size_bytes", Help: "Summary.", Objectives: map[float64]float64{0.5: 0.05, 0.99: 0.001}})
	for i := range 100 {
		s.Observe(float64(i))
	}
	created := time.Unix(1700000000, 123456789)
	constCtr := prometheus.MustNewConstMetricWithCreatedTimestamp(prometheus.NewDesc("t_const_total", "Created timestamp.", nil, nil), prometheus.CounterValue, 7, created)
	untyped := prometheus.MustNewConstMetric(prometheus.NewDesc("t_untyped", "", []string{"l"}, nil), prometheus.UntypedValue, math.NaN(), "x")
	utf8 := prometheus.MustNewConstMetric(prometheus.NewDesc("t.dotted name", "Needs escaping.", []string{"label.with.dots"}, nil), prometheus.GaugeValue, 1, "v")
	reg.MustRegister(ctr, g, h, s, collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		constMetrics{constCtr, untyped, utf8})
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	// A family as a parsed exposition can give it: no help, no type, a
	// timestamp, a summary with a created timestamp.
	fams = append(fams, &dto.MetricFamily{
		Name: proto.String("t_bare"),
		Metric: []*dto.Metric{{
			Summary:     &dto.Summary{SampleCount: proto.Uint64(0), CreatedTimestamp: timestamppb.New(created)},
			TimestampMs: proto.Int64(-5),
		}},
		Unit: proto.String("seconds"),
	})
	return fams
}

type constMetrics []prometheus.Metric

func (c constMetrics) Describe(chan<- *prometheus.Desc) {}
func (c constMetrics) Collect(ch chan<- prometheus.Metric) {
	for _, m := range c {
		ch <- m
	}
}

// The protowire encoding must be the bytes expfmt wrote, and decode to
// the families that went in.
func TestEncodingMatchesExpfmt(t *testing.T) {
	fams := everyKind(t)
	got, want := encodeFamilies(fams), reference(t, fams)
	if !bytes.Equal(got, want) {
		i := 0
		for i < len(got) && i < len(want) && got[i] == want[i] {
			i++
		}
		t.Fatalf("encoding differs from expfmt's at byte %d of %d (expfmt %d bytes)", i, len(got), len(want))
	}
	dec := decode(t, got)
	if len(dec) != len(fams) {
		t.Fatalf("decoded %d families, encoded %d", len(dec), len(fams))
	}
	escaped := 0
	for i := range fams {
		if fams[i].GetName() == "t.dotted name" {
			escaped++ // escaped on the wire, as expfmt does
			continue
		}
		if !proto.Equal(dec[i], fams[i]) {
			t.Errorf("family %s does not decode to what was encoded:\n got %v\nwant %v", fams[i].GetName(), dec[i], fams[i])
		}
	}
	if escaped != 1 {
		t.Errorf("the family that needs escaping was not among the encoded ones")
	}
}

func BenchmarkEncodeProtowire(b *testing.B) {
	t := &testing.T{}
	fams := everyKind(t)
	var buf []byte
	for b.Loop() {
		buf = buf[:0]
		for _, f := range fams {
			buf = AppendDelimited(buf, f)
		}
	}
}

// BenchmarkEncodeGather encodes a real node_exporter gather (268 families,
// 41 kB on the wire), the pusher's work per push.
func BenchmarkEncodeGather(b *testing.B) {
	data, err := os.ReadFile("../remotewrite/testdata/gather.prom")
	if err != nil {
		b.Fatal(err)
	}
	var fams []*dto.MetricFamily
	dec := expfmt.NewDecoder(bytes.NewReader(data), expfmt.NewFormat(expfmt.TypeTextPlain))
	for {
		f := &dto.MetricFamily{}
		if err := dec.Decode(f); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			b.Fatal(err)
		}
		fams = append(fams, f)
	}
	var buf []byte // reused, as the pusher does
	for b.Loop() {
		buf = buf[:0]
		for _, f := range fams {
			buf = AppendDelimited(buf, f)
		}
	}
}
