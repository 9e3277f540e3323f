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
	b = protowire.AppendVarint(b, uint64(sizeFamily(f)))
	return appendFamily(b, f)
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

// Sizes of a field's tag and of common payloads.
func tagSize(num protowire.Number) int { return protowire.SizeTag(num) }
func strSize(num protowire.Number, s string) int {
	return tagSize(num) + protowire.SizeBytes(len(s))
}
func msgSize(num protowire.Number, n int) int { return tagSize(num) + protowire.SizeBytes(n) }
func f64Size(num protowire.Number) int        { return tagSize(num) + protowire.SizeFixed64() }
func varSize(num protowire.Number, v uint64) int {
	return tagSize(num) + protowire.SizeVarint(v)
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
func appendMsgHeader(b []byte, num protowire.Number, n int) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendVarint(b, uint64(n))
}

func sizeFamily(f *dto.MetricFamily) int {
	n := 0
	if f.Name != nil {
		n += strSize(famName, *f.Name)
	}
	if f.Help != nil {
		n += strSize(famHelp, *f.Help)
	}
	if f.Type != nil {
		n += varSize(famType, uint64(int64(*f.Type)))
	}
	for _, m := range f.Metric {
		n += msgSize(famMetric, sizeMetric(m))
	}
	if f.Unit != nil {
		n += strSize(famUnit, *f.Unit)
	}
	return n
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
		b = appendMsgHeader(b, famMetric, sizeMetric(m))
		b = appendMetric(b, m)
	}
	if f.Unit != nil {
		b = appendStr(b, famUnit, *f.Unit)
	}
	return b
}

func sizeMetric(m *dto.Metric) int {
	n := 0
	for _, l := range m.Label {
		n += msgSize(metLabel, sizeLabel(l))
	}
	if m.Gauge != nil {
		n += msgSize(metGauge, sizeValue(m.Gauge.Value))
	}
	if m.Counter != nil {
		n += msgSize(metCounter, sizeCounter(m.Counter))
	}
	if m.Summary != nil {
		n += msgSize(metSummary, sizeSummary(m.Summary))
	}
	if m.Untyped != nil {
		n += msgSize(metUntyped, sizeValue(m.Untyped.Value))
	}
	if m.TimestampMs != nil {
		n += varSize(metTimestampMs, uint64(*m.TimestampMs))
	}
	if m.Histogram != nil {
		n += msgSize(metHistogram, sizeHistogram(m.Histogram))
	}
	return n
}

func appendMetric(b []byte, m *dto.Metric) []byte {
	for _, l := range m.Label {
		b = appendMsgHeader(b, metLabel, sizeLabel(l))
		b = appendLabel(b, l)
	}
	if m.Gauge != nil {
		b = appendMsgHeader(b, metGauge, sizeValue(m.Gauge.Value))
		b = appendValue(b, m.Gauge.Value)
	}
	if m.Counter != nil {
		b = appendMsgHeader(b, metCounter, sizeCounter(m.Counter))
		b = appendCounter(b, m.Counter)
	}
	if m.Summary != nil {
		b = appendMsgHeader(b, metSummary, sizeSummary(m.Summary))
		b = appendSummary(b, m.Summary)
	}
	if m.Untyped != nil {
		b = appendMsgHeader(b, metUntyped, sizeValue(m.Untyped.Value))
		b = appendValue(b, m.Untyped.Value)
	}
	if m.TimestampMs != nil {
		b = appendVar(b, metTimestampMs, uint64(*m.TimestampMs))
	}
	if m.Histogram != nil {
		b = appendMsgHeader(b, metHistogram, sizeHistogram(m.Histogram))
		b = appendHistogram(b, m.Histogram)
	}
	return b
}

func sizeLabel(l *dto.LabelPair) int {
	n := 0
	if l.Name != nil {
		n += strSize(lpName, *l.Name)
	}
	if l.Value != nil {
		n += strSize(lpValue, *l.Value)
	}
	return n
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

// sizeValue and appendValue are Gauge and Untyped: one optional double.
func sizeValue(v *float64) int {
	if v == nil {
		return 0
	}
	return f64Size(valueField)
}

func appendValue(b []byte, v *float64) []byte {
	if v == nil {
		return b
	}
	return appendF64(b, valueField, *v)
}

func sizeCounter(c *dto.Counter) int {
	n := sizeValue(c.Value)
	if c.Exemplar != nil {
		n += msgSize(ctrExemplar, sizeExemplar(c.Exemplar))
	}
	if c.CreatedTimestamp != nil {
		n += msgSize(ctrCreated, sizeTimestamp(c.CreatedTimestamp))
	}
	return n
}

func appendCounter(b []byte, c *dto.Counter) []byte {
	b = appendValue(b, c.Value)
	if c.Exemplar != nil {
		b = appendMsgHeader(b, ctrExemplar, sizeExemplar(c.Exemplar))
		b = appendExemplar(b, c.Exemplar)
	}
	if c.CreatedTimestamp != nil {
		b = appendMsgHeader(b, ctrCreated, sizeTimestamp(c.CreatedTimestamp))
		b = appendTimestamp(b, c.CreatedTimestamp)
	}
	return b
}

func sizeSummary(s *dto.Summary) int {
	n := 0
	if s.SampleCount != nil {
		n += varSize(sumCount, *s.SampleCount)
	}
	if s.SampleSum != nil {
		n += f64Size(sumSum)
	}
	for _, q := range s.Quantile {
		n += msgSize(sumQuantile, sizeQuantile(q))
	}
	if s.CreatedTimestamp != nil {
		n += msgSize(sumCreated, sizeTimestamp(s.CreatedTimestamp))
	}
	return n
}

func appendSummary(b []byte, s *dto.Summary) []byte {
	if s.SampleCount != nil {
		b = appendVar(b, sumCount, *s.SampleCount)
	}
	if s.SampleSum != nil {
		b = appendF64(b, sumSum, *s.SampleSum)
	}
	for _, q := range s.Quantile {
		b = appendMsgHeader(b, sumQuantile, sizeQuantile(q))
		if q.Quantile != nil {
			b = appendF64(b, qQuantile, *q.Quantile)
		}
		if q.Value != nil {
			b = appendF64(b, qValue, *q.Value)
		}
	}
	if s.CreatedTimestamp != nil {
		b = appendMsgHeader(b, sumCreated, sizeTimestamp(s.CreatedTimestamp))
		b = appendTimestamp(b, s.CreatedTimestamp)
	}
	return b
}

func sizeQuantile(q *dto.Quantile) int {
	n := 0
	if q.Quantile != nil {
		n += f64Size(qQuantile)
	}
	if q.Value != nil {
		n += f64Size(qValue)
	}
	return n
}
