package pushgateway

import (
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Histograms, classic and native, with their exemplars. The repeated
// scalars of native histograms are proto2 fields without [packed=true],
// so each element is written with its own tag, as proto.Marshal does.

func appendHistogram(b []byte, h *dto.Histogram) []byte {
	if h.SampleCount != nil {
		b = appendVar(b, hCount, *h.SampleCount)
	}
	if h.SampleSum != nil {
		b = appendF64(b, hSum, *h.SampleSum)
	}
	for _, bk := range h.Bucket {
		b = appendNested(b, hBucket, func(b []byte) []byte { return appendBucket(b, bk) })
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
		b = appendNested(b, hCreated, func(b []byte) []byte { return appendTimestamp(b, h.CreatedTimestamp) })
	}
	for _, e := range h.Exemplars {
		b = appendNested(b, hExemplars, func(b []byte) []byte { return appendExemplar(b, e) })
	}
	return b
}

// appendSide writes one side (negative or positive) of a native
// histogram: its spans, deltas and float counts.
func appendSide(b []byte, spanNum, deltaNum, countNum protowire.Number, spans []*dto.BucketSpan, deltas []int64, counts []float64) []byte {
	for _, s := range spans {
		b = appendNested(b, spanNum, func(b []byte) []byte { return appendSpan(b, s) })
	}
	for _, d := range deltas {
		b = appendVar(b, deltaNum, protowire.EncodeZigZag(d))
	}
	for _, c := range counts {
		b = appendF64(b, countNum, c)
	}
	return b
}

func appendSpan(b []byte, s *dto.BucketSpan) []byte {
	if s.Offset != nil {
		b = appendVar(b, spanOffset, protowire.EncodeZigZag(int64(*s.Offset)))
	}
	if s.Length != nil {
		b = appendVar(b, spanLength, uint64(*s.Length))
	}
	return b
}

func appendBucket(b []byte, bk *dto.Bucket) []byte {
	if bk.CumulativeCount != nil {
		b = appendVar(b, bCount, *bk.CumulativeCount)
	}
	if bk.UpperBound != nil {
		b = appendF64(b, bUpper, *bk.UpperBound)
	}
	if bk.Exemplar != nil {
		b = appendNested(b, bExemplar, func(b []byte) []byte { return appendExemplar(b, bk.Exemplar) })
	}
	if bk.CumulativeCountFloat != nil {
		b = appendF64(b, bCountFloat, *bk.CumulativeCountFloat)
	}
	return b
}

func appendExemplar(b []byte, e *dto.Exemplar) []byte {
	for _, l := range e.Label {
		b = appendNested(b, exLabel, func(b []byte) []byte { return appendLabel(b, l) })
	}
	if e.Value != nil {
		b = appendF64(b, exValue, *e.Value)
	}
	if e.Timestamp != nil {
		b = appendNested(b, exTimestamp, func(b []byte) []byte { return appendTimestamp(b, e.Timestamp) })
	}
	return b
}

// appendTimestamp writes a google.protobuf.Timestamp, which is proto3:
// zero fields are not written.
func appendTimestamp(b []byte, t *timestamppb.Timestamp) []byte {
	if t.Seconds != 0 {
		b = appendVar(b, tsSeconds, uint64(t.Seconds))
	}
	if t.Nanos != 0 {
		b = appendVar(b, tsNanos, uint64(int64(t.Nanos)))
	}
	return b
}
