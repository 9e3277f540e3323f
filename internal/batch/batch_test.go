package batch

import (
	"math"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/proto"
)

func TestCountSeriesHistogramInf(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "h", Help: "h", Buckets: []float64{1, 2}})
	reg.MustRegister(h)
	fams, _ := reg.Gather()
	// client_golang leaves +Inf implicit: 2 buckets + +Inf + sum + count.
	if got := CountSeries(fams); got != 5 {
		t.Errorf("CountSeries = %d, want 5", got)
	}
	// A parsed text exposition lists +Inf as a bucket: still 5.
	inf := fams[0].Metric[0].Histogram
	inf.Bucket = append(inf.Bucket, &dto.Bucket{UpperBound: proto.Float64(math.Inf(+1)), CumulativeCount: proto.Uint64(0)})
	if got := CountSeries(fams); got != 5 {
		t.Errorf("CountSeries with an explicit +Inf bucket = %d, want 5", got)
	}
}
