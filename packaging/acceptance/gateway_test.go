//go:build acceptance

package acceptance

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/hostpush/hostpush/internal/procs"
)

// gateway is the release's own prometheus-pushgateway, installed in the
// container's tree with apt and run by the container's systemd from
// Debian's unit, on a free loopback port (the container shares the host's
// network, so the test reaches it there).
type gateway struct {
	url     string
	version string // as pushgateway_build_info reports it
}

const gatewayUnit = "prometheus-pushgateway.service"

// startGateway points the packaged unit at a free loopback port (ARGS in
// /etc/default/prometheus-pushgateway, as an admin would) and starts it.
// Its persistence file is Debian's default, in the tree extracted afresh
// for this run.
func startGateway(t *testing.T, c *container) *gateway {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	c.writeFile("/etc/default/prometheus-pushgateway", fmt.Sprintf("ARGS=\"--web.listen-address=%s\"\n", addr), 0o644)
	c.must("systemctl", "start", gatewayUnit)
	g := &gateway{url: "http://" + addr}
	if err := waitFor(20*time.Second, func() error {
		resp, err := http.Get(g.url + "/-/ready")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("/-/ready: %s", resp.Status)
		}
		return nil
	}); err != nil {
		out, _ := c.exec(time.Minute, "journalctl", "--no-pager", "-n", "30", "-u", gatewayUnit)
		t.Fatalf("the container's pushgateway at %s is not ready: %v\n%s", addr, err, out)
	}
	vals, err := g.labelValues("pushgateway_build_info", nil, "version")
	if err != nil || len(vals) != 1 {
		t.Fatalf("pushgateway_build_info at %s: %v %v", addr, vals, err)
	}
	g.version = vals[0]
	return g
}

// families returns what the gateway exposes on /metrics.
func (g *gateway) families() (map[string]*dto.MetricFamily, error) {
	return procs.Scrape(context.Background(), g.url+"/metrics")
}

// samples returns the samples of one family whose labels include all of
// match, keyed by the value of the label key (or "" when key is empty).
func (g *gateway) samples(family string, match map[string]string, key string) (map[string]float64, error) {
	fams, err := g.families()
	if err != nil {
		return nil, err
	}
	out := map[string]float64{}
	mf := fams[family]
	if mf == nil {
		return out, nil
	}
next:
	for _, m := range mf.GetMetric() {
		labels := map[string]string{}
		for _, lp := range m.GetLabel() {
			labels[lp.GetName()] = lp.GetValue()
		}
		for k, v := range match {
			if labels[k] != v {
				continue next
			}
		}
		var v float64
		switch {
		case m.Gauge != nil:
			v = m.GetGauge().GetValue()
		case m.Counter != nil:
			v = m.GetCounter().GetValue()
		case m.Untyped != nil:
			v = m.GetUntyped().GetValue()
		}
		out[labels[key]] = v
	}
	return out, nil
}

// labelValues returns the values of label key over the samples of one family
// whose labels include all of match.
func (g *gateway) labelValues(family string, match map[string]string, key string) ([]string, error) {
	s, err := g.samples(family, match, key)
	if err != nil {
		return nil, err
	}
	var vals []string
	for k := range s {
		vals = append(vals, k)
	}
	return vals, nil
}
