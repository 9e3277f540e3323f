package pushgateway

import (
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Histograms, classic and native, with their exemplars. The repeated
// scalars of native histograms are proto2 fields without [packed=true],
// so each element is written with its own tag, as proto.Marshal does.

func sizeHistogram(h *dto.Histogram) int {
	n := 0
	if h.SampleCount != nil {
		n += varSize(hCount, *h.SampleCount)
	}
	if h.SampleSum != nil {
		n += f64Size(hSum)
	}
	for _, bk := range h.Bucket {
		n += msgSize(hBucket, sizeBucket(bk))
	}
	if h.SampleCountFloat != nil {
		n += f64Size(hCountFloat)
	}
	if h.Schema != nil {
		n += varSize(hSchema, protowire.EncodeZigZag(int64(*h.Schema)))
	}
	if h.ZeroThreshold != nil {
		n += f64Size(hZeroThreshold)
	}
	if h.ZeroCount != nil {
		n += varSize(hZeroCount, *h.ZeroCount)
	}
	if h.ZeroCountFloat != nil {
		n += f64Size(hZeroCountFloat)
	}
	n += sizeSide(hNegSpan, hNegDelta, hNegCount, h.NegativeSpan, h.NegativeDelta, h.NegativeCount)
	n += sizeSide(hPosSpan, hPosDelta, hPosCount, h.PositiveSpan, h.PositiveDelta, h.PositiveCount)
	if h.CreatedTimestamp != nil {
		n += msgSize(hCreated, sizeTimestamp(h.CreatedTimestamp))
	}
	for _, e := range h.Exemplars {
		n += msgSize(hExemplars, sizeExemplar(e))
	}
	return n
}

func appendHistogram(b []byte, h *dto.Histogram) []byte {
	if h.SampleCount != nil {
		b = appendVar(b, hCount, *h.SampleCount)
	}
	if h.SampleSum != nil {
		b = appendF64(b, hSum, *h.SampleSum)
	}
	for _, bk := range h.Bucket {
		b = appendMsgHeader(b, hBucket, sizeBucket(bk))
		b = appendBucket(b, bk)
	}
	if h.SampleCountFloat != nil {
		b = appendF64(b, hCountFloat, *h.SampleCountFloat)
	}
	if h.Schema != nil {
		b = appendVar(b, hSchema, protowire.EncodeZigZag(int64(*h.Schema)))
	}
	if h.ZeroThreshold != nil {
		b = appendF64(b, hZeroThreshold, *h.ZeroThreshold)
	}
	if h.ZeroCount != nil {
		b = appendVar(b, hZeroCount, *h.ZeroCount)
	}
	if h.ZeroCountFloat != nil {
		b = appendF64(b, hZeroCountFloat, *h.ZeroCountFloat)
	}
	b = appendSide(b, hNegSpan, hNegDelta, hNegCount, h.NegativeSpan, h.NegativeDelta, h.NegativeCount)
	b = appendSide(b, hPosSpan, hPosDelta, hPosCount, h.PositiveSpan, h.PositiveDelta, h.PositiveCount)
	if h.CreatedTimestamp != nil {
		b = appendMsgHeader(b, hCreated, sizeTimestamp(h.CreatedTimestamp))
		b = appendTimestamp(b, h.CreatedTimestamp)
	}
	for _, e := range h.Exemplars {
		b = appendMsgHeader(b, hExemplars, sizeExemplar(e))
		b = appendExemplar(b, e)
	}
	return b
}

// sizeSide and appendSide write one side (negative or positive) of a
// native histogram: its spans, deltas and float counts.
func sizeSide(spanNum, deltaNum, countNum protowire.Number, spans []*dto.BucketSpan, deltas []int64, counts []float64) int {
	n := 0
	for _, s := range spans {
		n += msgSize(spanNum, sizeSpan(s))
	}
	for _, d := range deltas {
		n += varSize(deltaNum, protowire.EncodeZigZag(d))
	}
	return n + len(counts)*f64Size(countNum)
}

func appendSide(b []byte, spanNum, deltaNum, countNum protowire.Number, spans []*dto.BucketSpan, deltas []int64, counts []float64) []byte {
	for _, s := range spans {
		b = appendMsgHeader(b, spanNum, sizeSpan(s))
		if s.Offset != nil {
			b = appendVar(b, spanOffset, protowire.EncodeZigZag(int64(*s.Offset)))
		}
		if s.Length != nil {
			b = appendVar(b, spanLength, uint64(*s.Length))
		}
	}
	for _, d := range deltas {
		b = appendVar(b, deltaNum, protowire.EncodeZigZag(d))
	}
	for _, c := range counts {
		b = appendF64(b, countNum, c)
	}
	return b
}

func sizeSpan(s *dto.BucketSpan) int {
	n := 0
	if s.Offset != nil {
		n += varSize(spanOffset, protowire.EncodeZigZag(int64(*s.Offset)))
	}
	if s.Length != nil {
		n += varSize(spanLength, uint64(*s.Length))
	}
	return n
}

func sizeBucket(bk *dto.Bucket) int {
	n := 0
	if bk.CumulativeCount != nil {
		n += varSize(bCount, *bk.CumulativeCount)
	}
	if bk.UpperBound != nil {
		n += f64Size(bUpper)
	}
	if bk.Exemplar != nil {
		n += msgSize(bExemplar, sizeExemplar(bk.Exemplar))
	}
	if bk.CumulativeCountFloat != nil {
		n += f64Size(bCountFloat)
	}
	return n
}

func appendBucket(b []byte, bk *dto.Bucket) []byte {
	if bk.CumulativeCount != nil {
		b = appendVar(b, bCount, *bk.CumulativeCount)
	}
	if bk.UpperBound != nil {
		b = appendF64(b, bUpper, *bk.UpperBound)
	}
	if bk.Exemplar != nil {
		b = appendMsgHeader(b, bExemplar, sizeExemplar(bk.Exemplar))
		b = appendExemplar(b, bk.Exemplar)
	}
	if bk.CumulativeCountFloat != nil {
		b = appendF64(b, bCountFloat, *bk.CumulativeCountFloat)
	}
	return b
}

func sizeExemplar(e *dto.Exemplar) int {
	n := 0
	for _, l := range e.Label {
		n += msgSize(exLabel, sizeLabel(l))
	}
	if e.Value != nil {
		n += f64Size(exValue)
	}
	if e.Timestamp != nil {
		n += msgSize(exTimestamp, sizeTimestamp(e.Timestamp))
	}
	return n
}

func appendExemplar(b []byte, e *dto.Exemplar) []byte {
	for _, l := range e.Label {
		b = appendMsgHeader(b, exLabel, sizeLabel(l))
		b = appendLabel(b, l)
	}
	if e.Value != nil {
		b = appendF64(b, exValue, *e.Value)
	}
	if e.Timestamp != nil {
		b = appendMsgHeader(b, exTimestamp, sizeTimestamp(e.Timestamp))
		b = appendTimestamp(b, e.Timestamp)
	}
	return b
}

// Timestamps are proto3 (google.protobuf.Timestamp): zero fields are
// not written.
func sizeTimestamp(t *timestamppb.Timestamp) int {
	n := 0
	if t.Seconds != 0 {
		n += varSize(tsSeconds, uint64(t.Seconds))
	}
	if t.Nanos != 0 {
		n += varSize(tsNanos, uint64(int64(t.Nanos)))
	}
	return n
}

func appendTimestamp(b []byte, t *timestamppb.Timestamp) []byte {
	if t.Seconds != 0 {
		b = appendVar(b, tsSeconds, uint64(t.Seconds))
	}
	if t.Nanos != 0 {
		b = appendVar(b, tsNanos, uint64(int64(t.Nanos)))
	}
	return b
}
