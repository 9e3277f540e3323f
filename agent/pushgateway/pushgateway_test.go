package pushgateway

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/proto"

	"github.com/hostpush/hostpush/internal/batch"
	"github.com/hostpush/hostpush/internal/procs"
)

func TestGroupPath(t *testing.T) {
	tests := []struct {
		name     string
		job      string
		grouping []batch.Label
		want     string
	}{
		{"job and instance", "host-stats", []batch.Label{{Name: "instance", Value: "web1"}}, "/metrics/job/host-stats/instance/web1"},
		{"extra labels in order", "host-stats", []batch.Label{{Name: "instance", Value: "web1"}, {Name: "dc", Value: "eu1"}}, "/metrics/job/host-stats/instance/web1/dc/eu1"},
		{"slash needs base64", "host-stats", []batch.Label{{Name: "instance", Value: "a/b"}}, "/metrics/job/host-stats/instance@base64/YS9i"},
		{"empty needs base64", "host-stats", []batch.Label{{Name: "instance", Value: ""}}, "/metrics/job/host-stats/instance@base64/="},
		{"job with slash", "a/b", nil, "/metrics/job@base64/YS9i"},
		{"other characters escaped", "host stats", []batch.Label{{Name: "instance", Value: "web?1"}}, "/metrics/job/host%20stats/instance/web%3F1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := GroupPath(tc.job, tc.grouping); got != tc.want {
				t.Errorf("GroupPath = %q, want %q", got, tc.want)
			}
		})
	}
}

func FuzzGroupPath(f *testing.F) {
	for _, s := range []string{"web1", "a/b", "", "x y", "@base64", "%2F", "..", "ü/ö"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		p := GroupPath("j", []batch.Label{{Name: "instance", Value: v}})
		rest, ok := strings.CutPrefix(p, "/metrics/job/j/instance")
		if !ok {
			t.Fatalf("path %q lost its prefix", p)
		}
		// The value must come back out of the path unchanged.
		var got string
		switch {
		case strings.HasPrefix(rest, "@base64/"):
			enc := strings.TrimPrefix(rest, "@base64/")
			if enc == "=" {
				break
			}
			b, err := base64.RawURLEncoding.DecodeString(enc)
			if err != nil {
				t.Fatalf("bad base64 %q: %v", enc, err)
			}
			got = string(b)
		case strings.HasPrefix(rest, "/"):
			seg := strings.TrimPrefix(rest, "/")
			if strings.Contains(seg, "/") {
				t.Fatalf("value %q split the path: %q", v, p)
			}
			var err error
			if got, err = url.PathUnescape(seg); err != nil {
				t.Fatal(err)
			}
		default:
			t.Fatalf("malformed %q", p)
		}
		if got != v {
			t.Fatalf("value %q came back as %q from %q", v, got, p)
		}
	})
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"default is valid", func(*Config) {}, ""},
		{"bad scheme", func(c *Config) { c.URL = "ftp://x" }, `push.url: "ftp://x" has scheme "ftp" (allowed: http, https)`},
		{"no host", func(c *Config) { c.URL = "http://" }, "push.url: \"http://\" has no host"},
		{"empty job", func(c *Config) { c.Job = "" }, "push.job: empty"},
		{"zero interval", func(c *Config) { c.Interval = 0 }, "push.interval: 0s is not a positive duration"},
		{"timeout not below interval", func(c *Config) { c.Timeout = 5 * time.Second }, "push.timeout: 5s must be shorter than push.interval 5s"},
		{"grouping job", func(c *Config) { c.Grouping = map[string]string{"job": "x"} }, `push.grouping: "job" is not allowed`},
		{"grouping bad name", func(c *Config) { c.Grouping = map[string]string{"1dc": "x"} }, `push.grouping: "1dc" is not allowed`},
		{"tls file missing", func(c *Config) { c.HTTPClientConfig.TLSConfig.CAFile = "/nonexistent/ca.pem" }, "push: unable to read CA cert"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.mod(&c)
			err := c.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Validate() = %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate() = %v, want %q", err, tc.want)
			}
		})
	}
}

// startGateway runs Debian's Pushgateway on a free loopback port and
// returns its address.
func startGateway(t *testing.T) string {
	t.Helper()
	addr, err := procs.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), procs.StartTimeout)
	defer cancel()
	p, err := procs.StartPushgateway(ctx, addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Stop(5 * time.Second) })
	return addr
}

func gauge(name string, v float64, labels ...string) *dto.MetricFamily {
	m := &dto.Metric{Gauge: &dto.Gauge{Value: proto.Float64(v)}}
	for i := 0; i+1 < len(labels); i += 2 {
		m.Label = append(m.Label, &dto.LabelPair{Name: proto.String(labels[i]), Value: proto.String(labels[i+1])})
	}
	return &dto.MetricFamily{Name: proto.String(name), Help: proto.String("test"), Type: dto.MetricType_GAUGE.Enum(), Metric: []*dto.Metric{m}}
}

// groups reads the gateway's groups: label sets and the metric names in each.
func groups(t *testing.T, base string) []map[string]any {
	t.Helper()
	resp, err := http.Get(base + "/api/v1/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Data []map[string]any `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	return body.Data
}

func groupWith(t *testing.T, base string, labels map[string]string) map[string]any {
	t.Helper()
	for _, g := range groups(t, base) {
		gl, _ := g["labels"].(map[string]any)
		match := len(gl) == len(labels)
		for k, v := range labels {
			match = match && gl[k] == v
		}
		if match {
			return g
		}
	}
	return nil
}

func TestPushToRealGateway(t *testing.T) {
	addr := startGateway(t)
	base := "http://" + addr
	c := DefaultConfig()
	c.URL = base
	p, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	batch := func(fams ...*dto.MetricFamily) *batch.Batch {
		return &batch.Batch{Time: time.Now(), Grouping: []batch.Label{{Name: "instance", Value: "web/1"}, {Name: "dc", Value: ""}},
			Groups: []batch.Group{{Job: "host-stats", Families: fams}}}
	}
	if err := p.Send(t.Context(), batch(gauge("a_metric", 1), gauge("b_metric", 2, "x", "y"))); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"job": "host-stats", "instance": "web/1", "dc": ""}
	g := groupWith(t, base, want)
	if g == nil {
		t.Fatalf("no group with labels %v on the gateway: %v", want, groups(t, base))
	}
	if g["a_metric"] == nil || g["b_metric"] == nil {
		t.Fatalf("group lacks the pushed families: %v", keys(g))
	}

	// PUT replaces the group: a family left out is gone.
	if err := p.Send(t.Context(), batch(gauge("a_metric", 3))); err != nil {
		t.Fatal(err)
	}
	g = groupWith(t, base, want)
	if g["b_metric"] != nil {
		t.Errorf("b_metric still on the gateway after a PUT without it: PUT semantics lost")
	}

	// A refused push (timestamps are not allowed) is an *Error with the status.
	ts := gauge("c_metric", 1)
	ts.Metric[0].TimestampMs = proto.Int64(1)
	err = p.Send(t.Context(), batch(ts))
	var pe *Error
	if !errors.As(err, &pe) || pe.Status != http.StatusBadRequest || !strings.Contains(pe.URL, addr) {
		t.Errorf("push with timestamp: %v, want a 400 *Error naming the URL", err)
	}

	// delete_on_shutdown removes the group on Close.
	c.DeleteOnShutdown = true
	p2, _ := New(c)
	if err := p2.Send(t.Context(), batch(gauge("a_metric", 4))); err != nil {
		t.Fatal(err)
	}
	if err := p2.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	// The gateway answers a DELETE before it applies it (202 Accepted).
	deadline := time.Now().Add(5 * time.Second)
	for groupWith(t, base, want) != nil {
		if time.Now().After(deadline) {
			t.Fatal("group still there 5s after Close with delete_on_shutdown")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func keys(m map[string]any) []string {
	var k []string
	for n := range m {
		k = append(k, n)
	}
	slices.Sort(k)
	return k
}

func TestHangingGatewayHitsTimeout(t *testing.T) {
	// A gateway that accepts and never answers: only a fake can do that on
	// demand.
	hang := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-hang }))
	defer srv.Close()
	defer close(hang)
	c := DefaultConfig()
	c.URL = srv.URL
	p, _ := New(c)
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	err := p.Send(ctx, &batch.Batch{Grouping: []batch.Label{{Name: "instance", Value: "h"}}, Groups: []batch.Group{{Job: "j", Families: []*dto.MetricFamily{gauge("a", 1)}}}})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Send to a hanging gateway = %v, want a deadline error", err)
	}
	if !strings.Contains(err.Error(), srv.URL) {
		t.Errorf("error %q does not name the URL", err)
	}
}

func TestServerErrorNamesStatusAndBody(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "storage full", http.StatusInternalServerError)
	}))
	defer srv.Close()
	c := DefaultConfig()
	c.URL = srv.URL
	p, _ := New(c)
	err := p.Send(t.Context(), &batch.Batch{Grouping: []batch.Label{{Name: "instance", Value: "h"}}, Groups: []batch.Group{{Job: "j", Families: []*dto.MetricFamily{gauge("a", 1)}}}})
	want := fmt.Sprintf("PUT %s/metrics/job/j/instance/h: status 500: storage full", srv.URL)
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %q", err, want)
	}
}
