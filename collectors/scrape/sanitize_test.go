package scrape

import (
	"bytes"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

const sampleText = `# HELP zeta_total Last family in the input.
# TYPE zeta_total counter
zeta_total{job="inner",instance="a:1"} 3 1700000000000
# HELP alpha Gauge with a grouping-label clash.
# TYPE alpha gauge
alpha{dc="eu",exported_job="taken",job="j"} 1
# HELP go_goroutines Number of goroutines that currently exist.
# TYPE go_goroutines gauge
go_goroutines 7
# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.
# TYPE process_cpu_seconds_total counter
process_cpu_seconds_total 1.5
`

// wantSanitized is sampleText after Sanitize with grouping label dc.
const wantSanitized = `# HELP alpha Gauge with a grouping-label clash.
# TYPE alpha gauge
alpha{exported_dc="eu",exported_exported_job="j",exported_job="taken"} 1
# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.
# TYPE process_cpu_seconds_total counter
process_cpu_seconds_total 1.5
# HELP zeta_total Last family in the input.
# TYPE zeta_total counter
zeta_total{exported_instance="a:1",exported_job="inner"} 3
`

func encode(t testing.TB, fams []*dto.MetricFamily, f expfmt.Format) []byte {
	t.Helper()
	var b bytes.Buffer
	enc := expfmt.NewEncoder(&b, f)
	for _, mf := range fams {
		if err := enc.Encode(mf); err != nil {
			t.Fatalf("encoding %s: %v", mf.GetName(), err)
		}
	}
	return b.Bytes()
}

func TestDecodeAndSanitize(t *testing.T) {
	fromText, err := Decode(strings.NewReader(sampleText), expfmt.NewFormat(expfmt.TypeTextPlain))
	if err != nil {
		t.Fatalf("Decode(text) = %v", err)
	}
	// The same families as delimited protobuf must come out the same.
	proto := encode(t, fromText, expfmt.NewFormat(expfmt.TypeProtoDelim))
	fromProto, err := Decode(bytes.NewReader(proto), expfmt.NewFormat(expfmt.TypeProtoDelim))
	if err != nil {
		t.Fatalf("Decode(protobuf) = %v", err)
	}
	for name, fams := range map[string][]*dto.MetricFamily{"text": fromText, "protobuf": fromProto} {
		got := string(encode(t, Sanitize(fams, []string{"job", "instance", "dc"}), expfmt.NewFormat(expfmt.TypeTextPlain)))
		if got != wantSanitized {
			t.Errorf("%s: Sanitize() =\n%s\nwant\n%s", name, got, wantSanitized)
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name, in string
		format   expfmt.Format
		want     string
	}{
		{"garbage text", "<html>not metrics</html>\n", expfmt.NewFormat(expfmt.TypeTextPlain), "parsing text exposition"},
		{"bad value", "foo{a=\"b\"} notanumber\n", expfmt.NewFormat(expfmt.TypeTextPlain), "parsing text exposition"},
		{"garbage protobuf", "\x05\xff\xff\xff\xff\xff", expfmt.NewFormat(expfmt.TypeProtoDelim), "parsing protobuf exposition"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode(strings.NewReader(tc.in), tc.format)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Decode() = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestDecodeDuplicateProtobufFamily(t *testing.T) {
	fams, err := Decode(strings.NewReader("# TYPE a gauge\na 1\n"), expfmt.NewFormat(expfmt.TypeTextPlain))
	if err != nil {
		t.Fatal(err)
	}
	proto := encode(t, append(fams, fams...), expfmt.NewFormat(expfmt.TypeProtoDelim))
	_, err = Decode(bytes.NewReader(proto), expfmt.NewFormat(expfmt.TypeProtoDelim))
	if err == nil || !strings.Contains(err.Error(), `"a" appears twice`) {
		t.Errorf("Decode(duplicate family) = %v, want an error naming it", err)
	}
}

// FuzzDecodeSanitize feeds arbitrary bytes through the parsing path in both
// formats: it must never panic, and whatever survives must carry no
// timestamp, no reserved label, no go_* family, and come out sorted.
func FuzzDecodeSanitize(f *testing.F) {
	f.Add([]byte(sampleText), false)
	f.Add([]byte("# TYPE h histogram\nh_bucket{le=\"1\",job=\"x\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 3\nh_count 2\n"), false)
	f.Add([]byte("a{instance=\"\"} 1 -5\n"), false)
	if fams, err := Decode(strings.NewReader(sampleText), expfmt.NewFormat(expfmt.TypeTextPlain)); err == nil {
		f.Add(encode(f, fams, expfmt.NewFormat(expfmt.TypeProtoDelim)), true)
	}
	reserved := []string{"job", "instance", "dc"}
	f.Fuzz(func(t *testing.T, in []byte, proto bool) {
		format := expfmt.NewFormat(expfmt.TypeTextPlain)
		if proto {
			format = expfmt.NewFormat(expfmt.TypeProtoDelim)
		}
		fams, err := Decode(bytes.NewReader(in), format)
		if err != nil {
			return
		}
		out := Sanitize(fams, reserved)
		for i, mf := range out {
			if i > 0 && out[i-1].GetName() >= mf.GetName() {
				t.Fatalf("families not sorted/unique: %q then %q", out[i-1].GetName(), mf.GetName())
			}
			if strings.HasPrefix(mf.GetName(), "go_") {
				t.Fatalf("go_ family %q kept", mf.GetName())
			}
			for _, m := range mf.GetMetric() {
				if m.TimestampMs != nil {
					t.Fatalf("%s: timestamp kept", mf.GetName())
				}
				for _, lp := range m.GetLabel() {
					for _, r := range reserved {
						if lp.GetName() == r {
							t.Fatalf("%s: reserved label %q kept", mf.GetName(), r)
						}
					}
				}
			}
		}
	})
}
