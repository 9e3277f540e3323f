package remotewrite

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/hostpush/hostpush/internal/batch"
)

// series is one decoded TimeSeries.
type series struct {
	labels  []Label
	samples []sample
}

type sample struct {
	value float64
	ts    int64
}

func (s series) String() string {
	var b strings.Builder
	b.WriteString("{")
	for i, l := range s.labels {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, "%s=%q", l.Name, l.Value)
	}
	b.WriteString("}")
	for _, x := range s.samples {
		fmt.Fprintf(&b, " %s@%d", formatFloat(x.value), x.ts)
	}
	return b.String()
}

func (s series) label(name string) string {
	for _, l := range s.labels {
		if l.Name == name {
			return l.Value
		}
	}
	return ""
}

// decodeWriteRequest parses a WriteRequest independently of the encoder,
// rejecting unknown fields and wrong wire types.
func decodeWriteRequest(b []byte) ([]series, error) {
	var out []series
	err := eachField(b, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
		if num != 1 || typ != protowire.BytesType {
			return fmt.Errorf("WriteRequest: unexpected field %d type %d", num, typ)
		}
		var s series
		err := eachField(v, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
			switch {
			case num == 1 && typ == protowire.BytesType:
				var l Label
				err := eachField(v, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
					switch {
					case num == 1 && typ == protowire.BytesType:
						l.Name = string(v)
					case num == 2 && typ == protowire.BytesType:
						l.Value = string(v)
					default:
						return fmt.Errorf("Label: unexpected field %d", num)
					}
					return nil
				})
				s.labels = append(s.labels, l)
				return err
			case num == 2 && typ == protowire.BytesType:
				var x sample
				err := eachField(v, func(num protowire.Number, typ protowire.Type, _ []byte, n uint64) error {
					switch {
					case num == 1 && typ == protowire.Fixed64Type:
						x.value = math.Float64frombits(n)
					case num == 2 && typ == protowire.VarintType:
						x.ts = int64(n)
					default:
						return fmt.Errorf("Sample: unexpected field %d", num)
					}
					return nil
				})
				s.samples = append(s.samples, x)
				return err
			}
			return fmt.Errorf("TimeSeries: unexpected field %d type %d", num, typ)
		})
		out = append(out, s)
		return err
	})
	return out, err
}

func eachField(b []byte, f func(protowire.Number, protowire.Type, []byte, uint64) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		var v []byte
		var x uint64
		switch typ {
		case protowire.BytesType:
			v, n = protowire.ConsumeBytes(b)
		case protowire.VarintType:
			x, n = protowire.ConsumeVarint(b)
		case protowire.Fixed64Type:
			x, n = protowire.ConsumeFixed64(b)
		default:
			return fmt.Errorf("unexpected wire type %d", typ)
		}
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		if err := f(num, typ, v, x); err != nil {
			return err
		}
	}
	return nil
}

func decodeSnappy(body []byte) ([]series, error) {
	pb, err := snappy.Decode(nil, body)
	if err != nil {
		return nil, fmt.Errorf("snappy: %w", err)
	}
	return decodeWriteRequest(pb)
}

func decodeBody(t testing.TB, body []byte) []series {
	t.Helper()
	ss, err := decodeSnappy(body)
	if err != nil {
		t.Fatal(err)
	}
	return ss
}

// loadGather reads testdata/gather.prom, a real gather of this kind of
// machine (node_exporter's collectors and the process collector) as text
// exposition.
func loadGather(t testing.TB) []*dto.MetricFamily {
	t.Helper()
	f, err := os.Open("testdata/gather.prom")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	m, err := p.TextToMetricFamilies(f)
	if err != nil {
		t.Fatalf("parsing testdata/gather.prom: %v", err)
	}
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	fams := make([]*dto.MetricFamily, 0, len(m))
	for _, n := range names {
		fams = append(fams, m[n])
	}
	return fams
}

// histSummary returns a client_golang histogram and summary with a label,
// gathered as dto, to cover those conversions with what a real exporter
// produces. The bucket bounds and quantiles cover the forms le and
// quantile take (integers, zero, negatives, exponents both ways, very
// large), so the receiver tests compare them with what Prometheus stores.
func histSummary(t testing.TB) []*dto.MetricFamily {
	t.Helper()
	reg := prometheus.NewRegistry()
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "test_duration_seconds", Help: "h",
		Buckets: []float64{-1, 0, 1e-05, 0.005, 0.5, 1, 5, 100000, 1e6, 1.5e300}}, []string{"op"})
	s := prometheus.NewSummaryVec(prometheus.SummaryOpts{Name: "test_size_bytes", Help: "s", Objectives: map[float64]float64{0.5: 0.05, 0.99: 0.001}}, []string{"op"})
	reg.MustRegister(h, s, minMaxSummary{})
	for _, v := range []float64{0.001, 0.2, 3} {
		h.WithLabelValues("read").Observe(v)
		s.WithLabelValues("read").Observe(v * 100)
	}
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	return fams
}

// minMaxSummary is a summary with the quantiles 0 and 1, as Go's
// go_gc_duration_seconds has them.
type minMaxSummary struct{}

var minMaxDesc = prometheus.NewDesc("test_pause_seconds", "s", nil, nil)

func (minMaxSummary) Describe(ch chan<- *prometheus.Desc) { ch <- minMaxDesc }
func (minMaxSummary) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstSummary(minMaxDesc, 3, 0.6, map[float64]float64{0: 0.1, 0.25: 0.15, 0.5: 0.2, 1: 0.3})
}

func testBatch(t testing.TB, at time.Time, instance string) *batch.Batch {
	return &batch.Batch{
		Time:     at,
		Grouping: []batch.Label{{Name: "instance", Value: instance}},
		Groups:   []batch.Group{{Job: "host-stats", Families: loadGather(t)}},
	}
}

// doerFunc fakes the receiver for time-based unit tests inside a synctest
// bubble, where a real socket would block the fake clock.
type doerFunc func(*http.Request) (*http.Response, error)

func (f doerFunc) Do(r *http.Request) (*http.Response, error) { return f(r) }

func respond(status int, header ...string) *http.Response {
	h := http.Header{}
	for i := 0; i+1 < len(header); i += 2 {
		h.Set(header[i], header[i+1])
	}
	return &http.Response{StatusCode: status, Header: h, Body: http.NoBody}
}

type modelDuration = model.Duration

func timeout(t *testing.T, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(t.Context(), d)
}
