package remotewrite

import (
	"bytes"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/golang/snappy"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/hostpush/hostpush/internal/batch"
)

// Field numbers of prometheus.WriteRequest (Remote-Write 1.0):
// WriteRequest{repeated TimeSeries timeseries = 1},
// TimeSeries{repeated Label labels = 1; repeated Sample samples = 2},
// Label{string name = 1; string value = 2},
// Sample{double value = 1; int64 timestamp = 2}.
const (
	fieldTimeseries  = 1
	fieldLabels      = 1
	fieldSamples     = 2
	fieldLabelName   = 1
	fieldLabelValue  = 2
	fieldSampleValue = 1
	fieldSampleTime  = 2
)

// Label is one label pair of a series: the same type as a batch's grouping
// labels, which become series labels here.
type Label = batch.Label

// Encoder turns batches into Remote-Write 1.0 request bodies. It reuses its
// buffers, so one Encoder must not be used by two goroutines at once.
type Encoder struct {
	external   []Label // sorted by name
	shortest   bool    // le and quantile as Prometheus 2.x stores them ("1"), not "1.0"
	stale      bool    // every sample is a stale marker
	pb         []byte
	series     []byte
	labels     []Label
	base       []Label
	compressed []byte
}

// NewEncoder returns an Encoder that adds external to every series lacking
// those labels and writes le and quantile values in the canonical form.
func NewEncoder(external map[string]string) *Encoder {
	e := &Encoder{}
	for _, k := range slices.Sorted(maps.Keys(external)) {
		e.external = append(e.external, Label{Name: k, Value: external[k]})
	}
	return e
}

// Encode returns the snappy-compressed protobuf WriteRequest for b, with
// every sample stamped with b.Time, and the number of samples in it. The
// series are those Prometheus would get by scraping the same families from
// the Pushgateway with honor_labels: job and the grouping labels on every
// series, histograms as _bucket{le}, _sum, _count, summaries as
// {quantile}, _sum, _count, le and quantile written as Prometheus 3 stores
// scraped ones ("1.0"; see canonicalFloat) unless the Encoder was set to
// the shortest form Prometheus 2.x keeps ("1").
func (e *Encoder) Encode(b *batch.Batch) (body []byte, samples int) {
	pb, n := e.Marshal(b)
	// snappy.Encode needs room for the worst case (about 1.17x the input)
	// but compresses a gather about 6:1; the buffer accounts for and keeps
	// the exact length only, so compress into scratch and copy.
	e.compressed = snappy.Encode(e.compressed[:cap(e.compressed)], pb)
	return bytes.Clone(e.compressed), n
}

// EncodeStale is Encode with every sample replaced by a stale marker
// stamped at: the request that ends each series of b at once, as
// Prometheus does for the series of a target that went away.
func (e *Encoder) EncodeStale(b *batch.Batch, at time.Time) (body []byte, samples int) {
	e.stale = true
	defer func() { e.stale = false }()
	sb := *b
	sb.Time = at
	return e.Encode(&sb)
}

// Marshal is Encode without compression; the result is reused by the next
// call.
func (e *Encoder) Marshal(b *batch.Batch) ([]byte, int) {
	e.pb = e.pb[:0]
	ts := b.Time.UnixMilli()
	n := 0
	for _, g := range b.Groups {
		e.base = append(e.base[:0], Label{Name: "job", Value: g.Job})
		e.base = append(e.base, b.Grouping...)
		for _, f := range g.Families {
			n += e.family(f, ts)
		}
	}
	return e.pb, n
}

func (e *Encoder) family(f *dto.MetricFamily, ts int64) int {
	name := f.GetName()
	n := 0
	for _, m := range f.GetMetric() {
		switch {
		case m.Histogram != nil:
			h := m.Histogram
			sawInf := false
			for _, bk := range h.GetBucket() {
				ub := bk.GetUpperBound()
				sawInf = sawInf || math.IsInf(ub, +1)
				cnt := float64(bk.GetCumulativeCount())
				if bk.CumulativeCountFloat != nil {
					cnt = bk.GetCumulativeCountFloat()
				}
				e.add(name+"_bucket", m, "le", e.formatBound(ub), cnt, ts)
				n++
			}
			count := float64(h.GetSampleCount())
			if h.SampleCountFloat != nil {
				count = h.GetSampleCountFloat()
			}
			if !sawInf {
				e.add(name+"_bucket", m, "le", "+Inf", count, ts)
				n++
			}
			e.add(name+"_sum", m, "", "", h.GetSampleSum(), ts)
			e.add(name+"_count", m, "", "", count, ts)
			n += 2
		case m.Summary != nil:
			s := m.Summary
			for _, q := range s.GetQuantile() {
				e.add(name, m, "quantile", e.formatBound(q.GetQuantile()), q.GetValue(), ts)
				n++
			}
			e.add(name+"_sum", m, "", "", s.GetSampleSum(), ts)
			e.add(name+"_count", m, "", "", float64(s.GetSampleCount()), ts)
			n += 2
		default:
			e.add(name, m, "", "", value(m), ts)
			n++
		}
	}
	return n
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Untyped != nil:
		return m.Untyped.GetValue()
	}
	return math.NaN()
}

// add appends one TimeSeries with one sample. Labels: the metric's own,
// then extra (le/quantile), overridden by job and grouping labels, then
// external labels where absent; empty values are dropped, as Prometheus
// drops them.
func (e *Encoder) add(name string, m *dto.Metric, extraName, extraValue string, v float64, ts int64) {
	if e.stale {
		v = staleNaN
	}
	ls := append(e.labels[:0], Label{Name: "__name__", Value: name})
	for _, lp := range m.GetLabel() {
		if !e.isBase(lp.GetName()) {
			ls = append(ls, Label{Name: lp.GetName(), Value: lp.GetValue()})
		}
	}
	if extraName != "" {
		ls = append(ls, Label{Name: extraName, Value: extraValue})
	}
	ls = append(ls, e.base...)
	for _, x := range e.external {
		if !hasLabel(ls, x.Name) {
			ls = append(ls, x)
		}
	}
	// Insertion sort: a series has a handful of labels, and this runs
	// for every series of every gather without allocating.
	for i := 1; i < len(ls); i++ {
		for j := i; j > 0 && ls[j].Name < ls[j-1].Name; j-- {
			ls[j], ls[j-1] = ls[j-1], ls[j]
		}
	}
	e.labels = ls

	s := e.series[:0]
	for _, l := range ls {
		if l.Value == "" {
			continue
		}
		s = protowire.AppendTag(s, fieldLabels, protowire.BytesType)
		s = protowire.AppendVarint(s, uint64(protowire.SizeTag(fieldLabelName)*2+
			protowire.SizeBytes(len(l.Name))+protowire.SizeBytes(len(l.Value))))
		s = protowire.AppendTag(s, fieldLabelName, protowire.BytesType)
		s = protowire.AppendString(s, l.Name)
		s = protowire.AppendTag(s, fieldLabelValue, protowire.BytesType)
		s = protowire.AppendString(s, l.Value)
	}
	s = protowire.AppendTag(s, fieldSamples, protowire.BytesType)
	s = protowire.AppendVarint(s, uint64(sampleSize(v, ts)))
	if math.Float64bits(v) != 0 {
		s = protowire.AppendTag(s, fieldSampleValue, protowire.Fixed64Type)
		s = protowire.AppendFixed64(s, math.Float64bits(v))
	}
	if ts != 0 {
		s = protowire.AppendTag(s, fieldSampleTime, protowire.VarintType)
		s = protowire.AppendVarint(s, uint64(ts))
	}
	e.series = s
	e.pb = protowire.AppendTag(e.pb, fieldTimeseries, protowire.BytesType)
	e.pb = protowire.AppendBytes(e.pb, s)
}

// sampleSize is the encoded size of Sample{v, ts}; proto3 leaves out zero
// values.
func sampleSize(v float64, ts int64) int {
	n := 0
	if math.Float64bits(v) != 0 {
		n += protowire.SizeTag(fieldSampleValue) + protowire.SizeFixed64()
	}
	if ts != 0 {
		n += protowire.SizeTag(fieldSampleTime) + protowire.SizeVarint(uint64(ts))
	}
	return n
}

func (e *Encoder) isBase(name string) bool { return hasLabel(e.base, name) }

func hasLabel(ls []Label, name string) bool {
	for _, l := range ls {
		if l.Name == name {
			return true
		}
	}
	return false
}

// staleNaN is the value Prometheus stores as a stale marker: the series
// ends at that sample (Prometheus' model/value.StaleNaN bit pattern).
var staleNaN = math.Float64frombits(0x7ff0000000000002)

func (e *Encoder) formatBound(f float64) string {
	if e.shortest {
		return formatFloat(f)
	}
	return canonicalFloat(f)
}

// canonicalFloat formats an le or quantile value as Prometheus 3 stores the
// ones it scrapes (its text, OpenMetrics and protobuf parsers all
// normalize them, whatever the exposition wrote): Go's shortest
// round-trip form, with ".0" added when that has neither a fraction nor an
// exponent. So 1 is "1.0", 100000 "100000.0", 0.005 stays "0.005", 1e-05
// and 1e+06 keep their exponent, zero of either sign is "0.0", and the
// non-finite values are "+Inf", "-Inf" and "NaN".
func canonicalFloat(f float64) string {
	if f == 0 {
		return "0.0" // also -0, which the shortest form would write as "-0"
	}
	s := formatFloat(f)
	if strings.ContainsAny(s, ".eIN") { // a fraction, an exponent, Inf or NaN
		return s
	}
	return s + ".0"
}

// formatFloat formats a value as the text exposition format does (Go's
// shortest round-trip form), which Prometheus 2.x keeps for le and quantile.
func formatFloat(f float64) string {
	switch {
	case math.IsInf(f, +1):
		return "+Inf"
	case math.IsInf(f, -1):
		return "-Inf"
	case math.IsNaN(f):
		return "NaN"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}
