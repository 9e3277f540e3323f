package pushgateway

import (
	"math"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"google.golang.org/protobuf/encoding/protowire"
)

// Field numbers of io.prometheus.client's messages (client_model's
// metrics.proto), in the order proto.Marshal writes them: ascending.
const (
	famName, famHelp, famType, famMetric, famUnit = 1, 2, 3, 4, 5

	metLabel, metGauge, metCounter, metSummary, metUntyped, metTimestampMs, metHistogram = 1, 2, 3, 4, 5, 6, 7

	lpName, lpValue = 1, 2

	valueField = 1 // Gauge, Untyped and Counter value

	ctrExemplar, ctrCreated = 2, 3

	sumCount, sumSum, sumQuantile, sumCreated = 1, 2, 3, 4
	qQuantile, qValue                         = 1, 2

	hCount, hSum, hBucket, hCountFloat, hSchema, hZeroThreshold, hZeroCount, hZeroCountFloat = 1, 2, 3, 4, 5, 6, 7, 8
	hNegSpan, hNegDelta, hNegCount, hPosSpan, hPosDelta, hPosCount, hCreated, hExemplars     = 9, 10, 11, 12, 13, 14, 15, 16

	bCount, bUpper, bExemplar, bCountFloat = 1, 2, 3, 4
	spanOffset, spanLength                 = 1, 2

	exLabel, exValue, exTimestamp = 1, 2, 3

	tsSeconds, tsNanos = 1, 2
)

// escaping is the name escaping expfmt applies for the delimited protobuf
// format; names that need none (all of node_exporter's) are written as
// they are.
var escaping = expfmt.NewFormat(expfmt.TypeProtoDelim).ToEscapingScheme()

// AppendDelimited appends f to b as expfmt's delimited protobuf encoder writes
// it (a varint length, then the message as proto.Marshal would), without
// going through reflection: the encoding is the same bytes (the golden
// test proves it) at a fraction of the CPU and garbage. Unknown fields,
// which only a decoded protobuf exposition could carry, are not written.
func AppendDelimited(b []byte, f *dto.MetricFamily) []byte {
	if needsEscaping(f) {
		f = model.EscapeMetricFamily(f, escaping)
	}
	return appendSized(b, func(b []byte) []byte { return appendFamily(b, f) })
}

// appendNested appends field num holding the message that body appends.
func appendNested(b []byte, num protowire.Number, body func([]byte) []byte) []byte {
	return appendSized(protowire.AppendTag(b, num, protowire.BytesType), body)
}

// appendSized appends what body appends, after its length as a varint, in
// one pass: one byte is kept for the length, which holds most messages
// here (labels, values, most metrics); the body of a longer one is moved
// up to make room. Computing every size first instead (as proto.Marshal
// does) walks each message once per level it is nested in: 1.4x the CPU
// on a node_exporter gather (BenchmarkEncodeGather).
func appendSized(b []byte, body func([]byte) []byte) []byte {
	at := len(b)
	b = body(append(b, 0))
	n := len(b) - at - 1
	if n < 0x80 {
		b[at] = byte(n)
		return b
	}
	k := protowire.SizeVarint(uint64(n))
	b = append(b, make([]byte, k-1)...)
	copy(b[at+k:], b[at+1:at+1+n])
	protowire.AppendVarint(b[at:at], uint64(n))
	return b
}

func needsEscaping(f *dto.MetricFamily) bool {
	if escaping == model.NoEscaping {
		return false
	}
	if f.Name != nil && !model.IsValidLegacyMetricName(f.GetName()) {
		return true
	}
	for _, m := range f.Metric {
		for _, l := range m.Label {
			if !model.IsValidLegacyMetricName(l.GetName()) ||
				(l.GetName() == model.MetricNameLabel && !model.IsValidLegacyMetricName(l.GetValue())) {
				return true
			}
		}
	}
	return false
}

func appendStr(b []byte, num protowire.Number, s string) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}
func appendF64(b []byte, num protowire.Number, v float64) []byte {
	b = protowire.AppendTag(b, num, protowire.Fixed64Type)
	return protowire.AppendFixed64(b, math.Float64bits(v))
}
func appendVar(b []byte, num protowire.Number, v uint64) []byte {
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

func appendFamily(b []byte, f *dto.MetricFamily) []byte {
	if f.Name != nil {
		b = appendStr(b, famName, *f.Name)
	}
	if f.Help != nil {
		b = appendStr(b, famHelp, *f.Help)
	}
	if f.Type != nil {
		b = appendVar(b, famType, uint64(int64(*f.Type)))
	}
	for _, m := range f.Metric {
		b = appendNested(b, famMetric, func(b []byte) []byte { return appendMetric(b, m) })
	}
	if f.Unit != nil {
		b = appendStr(b, famUnit, *f.Unit)
	}
	return b
}

func appendMetric(b []byte, m *dto.Metric) []byte {
	for _, l := range m.Label {
		b = appendNested(b, metLabel, func(b []byte) []byte { return appendLabel(b, l) })
	}
	if m.Gauge != nil {
		b = appendNested(b, metGauge, func(b []byte) []byte { return appendValue(b, m.Gauge.Value) })
	}
	if m.Counter != nil {
		b = appendNested(b, metCounter, func(b []byte) []byte { return appendCounter(b, m.Counter) })
	}
	if m.Summary != nil {
		b = appendNested(b, metSummary, func(b []byte) []byte { return appendSummary(b, m.Summary) })
	}
	if m.Untyped != nil {
		b = appendNested(b, metUntyped, func(b []byte) []byte { return appendValue(b, m.Untyped.Value) })
	}
	if m.TimestampMs != nil {
		b = appendVar(b, metTimestampMs, uint64(*m.TimestampMs))
	}
	if m.Histogram != nil {
		b = appendNested(b, metHistogram, func(b []byte) []byte { return appendHistogram(b, m.Histogram) })
	}
	return b
}

func appendLabel(b []byte, l *dto.LabelPair) []byte {
	if l.Name != nil {
		b = appendStr(b, lpName, *l.Name)
	}
	if l.Value != nil {
		b = appendStr(b, lpValue, *l.Value)
	}
	return b
}

// appendValue is Gauge and Untyped: one optional double.
func appendValue(b []byte, v *float64) []byte {
	if v == nil {
		return b
	}
	return appendF64(b, valueField, *v)
}

func appendCounter(b []byte, c *dto.Counter) []byte {
	b = appendValue(b, c.Value)
	if c.Exemplar != nil {
		b = appendNested(b, ctrExemplar, func(b []byte) []byte { return appendExemplar(b, c.Exemplar) })
	}
	if c.CreatedTimestamp != nil {
		b = appendNested(b, ctrCreated, func(b []byte) []byte { return appendTimestamp(b, c.CreatedTimestamp) })
	}
	return b
}

func appendSummary(b []byte, s *dto.Summary) []byte {
	if s.SampleCount != nil {
		b = appendVar(b, sumCount, *s.SampleCount)
	}
	if s.SampleSum != nil {
		b = appendF64(b, sumSum, *s.SampleSum)
	}
	for _, q := range s.Quantile {
		b = appendNested(b, sumQuantile, func(b []byte) []byte { return appendQuantile(b, q) })
	}
	if s.CreatedTimestamp != nil {
		b = appendNested(b, sumCreated, func(b []byte) []byte { return appendTimestamp(b, s.CreatedTimestamp) })
	}
	return b
}

func appendQuantile(b []byte, q *dto.Quantile) []byte {
	if q.Quantile != nil {
		b = appendF64(b, qQuantile, *q.Quantile)
	}
	if q.Value != nil {
		b = appendF64(b, qValue, *q.Value)
	}
	return b
}
