//go:build acceptance

package acceptance

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// gateway is Debian's prometheus-pushgateway on a free loopback port.
type gateway struct {
	url string
}

func startGateway(t *testing.T) *gateway {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	logf, err := os.Create(filepath.Join(t.TempDir(), "pushgateway.log"))
	if err != nil {
		t.Fatal(err)
	}
	// An empty --persistence.file: Debian's default would load earlier runs' groups.
	cmd := exec.Command("prometheus-pushgateway", "--web.listen-address="+addr, "--persistence.file=")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting prometheus-pushgateway: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		logf.Close()
	})
	g := &gateway{url: "http://" + addr}
	if err := waitFor(10*time.Second, func() error {
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
		b, _ := os.ReadFile(logf.Name())
		t.Fatalf("pushgateway at %s not ready: %v\n%s", addr, err, b)
	}
	return g
}

// families returns what the gateway exposes on /metrics.
func (g *gateway) families() (map[string]*dto.MetricFamily, error) {
	resp, err := http.Get(g.url + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return nil, fmt.Errorf("GET /metrics: %s: %s", resp.Status, b)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	return p.TextToMetricFamilies(resp.Body)
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
