package deploy

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/hostpush/hostpush/internal/procs"
)

const (
	testInstance = "deploy-test"
	imageJob     = "imageserver"
	seedPath     = "/assets/images/gophers.jpg?fit=crop&w=1024&h=1024&crop=center&blur=4"
)

// TestDashboardQueriesReturnData runs the real chain on loopback: the
// image server with the 12 MP sample photo under a mixed load (cached,
// distinct and overload requests), hostpush pushing the host and the
// scraped image server to a Debian Pushgateway every second, and a Debian
// Prometheus scraping it with deploy/prometheus.yml's scrape settings.
// Every expression of our dashboard, and every variable query, must then
// return data that is not all NaN.
func TestDashboardQueriesReturnData(t *testing.T) {
	hostpush, err1 := procs.Binary("hostpush")
	imageserver, err2 := procs.Binary("imageserver")
	if err1 != nil || err2 != nil {
		t.Fatalf("needs bin/hostpush and bin/imageserver; run make build (make test does): %v; %v", err1, err2)
	}
	ctx := t.Context()
	dir := t.TempDir()
	logs := map[string]*procs.Buffer{}
	start := func(name string, f func(io.Writer) (*procs.Proc, error)) {
		t.Helper()
		logs[name] = &procs.Buffer{}
		p, err := f(logs[name])
		if err != nil {
			t.Fatalf("%v\n%s log:\n%s", err, name, logs[name])
		}
		t.Cleanup(func() { _ = p.Stop(10 * time.Second) })
	}
	gw, prom, img := freeAddr(t), freeAddr(t), freeAddr(t)

	start("pushgateway", func(w io.Writer) (*procs.Proc, error) { return procs.StartPushgateway(ctx, gw, w) })
	promCfg := filepath.Join(dir, "prometheus.yml")
	writePrometheusConfig(t, promCfg, gw, prom)
	start("prometheus", func(w io.Writer) (*procs.Proc, error) {
		return procs.StartPrometheus(ctx, prom, promCfg, filepath.Join(dir, "tsdb"), w)
	})
	images := filepath.Join(dir, "images")
	if err := os.Mkdir(images, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := procs.SampleImage(ctx, images, "gophers.jpg"); err != nil {
		t.Fatal(err)
	}
	// One worker and a short queue, so part of the distinct requests is shed
	// (503) and the shed panel has something to show.
	start("imageserver", func(w io.Writer) (*procs.Proc, error) {
		return procs.StartImageServer(ctx, imageserver, img, images, []string{"--workers=1", "--queue.size=2", "--queue.timeout=300ms"}, w)
	})
	hpCfg := filepath.Join(dir, "hostpush.yml")
	if err := os.WriteFile(hpCfg, []byte(fmt.Sprintf(`push:
  url: http://%s
  instance: %s
  interval: 1s
scrape:
  - name: %s
    url: http://%s/metrics
`, gw, testInstance, imageJob, img)), 0o644); err != nil {
		t.Fatal(err)
	}
	start("hostpush", func(w io.Writer) (*procs.Proc, error) {
		return procs.Start("hostpush", hostpush, []string{"--config.file=" + hpCfg}, w)
	})

	load(t, "http://"+img, 12*time.Second)
	// Let the last pushes reach Prometheus (push and scrape every second).
	waitFor(t, 20*time.Second, func() bool {
		return hasData(t, prom, fmt.Sprintf(`imageserver_http_requests_total{job=%q,instance=%q,code="503"} > 0`, imageJob, testInstance))
	}, logs)

	d := loadDashboard(t)
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		q := labelValuesQuery(t, v.Definition)
		checkQuery(t, prom, "variable "+v.Name, q)
	}
	for _, p := range d.Panels {
		for i, tg := range p.Targets {
			checkQuery(t, prom, fmt.Sprintf("panel %q query %d", p.Title, i), expand(tg.Expr))
		}
	}
	if t.Failed() {
		for name, l := range logs {
			t.Logf("%s log (tail):\n%s", name, tail(l.String(), 1500))
		}
	}
}

// expand substitutes the dashboard variables as Grafana would for one
// instance and a 1 s push interval.
func expand(expr string) string {
	return strings.NewReplacer("$__rate_interval", "15s", "$__interval", "1s",
		"$instance", testInstance, "$job", imageJob).Replace(expr)
}

var labelValuesRE = regexp.MustCompile(`^label_values\((.*),\s*(\w+)\)$`)

// labelValuesQuery turns Grafana's label_values(selector, label) into a
// PromQL query returning one series per label value.
func labelValuesQuery(t *testing.T, def string) string {
	m := labelValuesRE.FindStringSubmatch(expand(def))
	if m == nil {
		t.Fatalf("variable definition %q is not label_values(selector, label)", def)
	}
	return fmt.Sprintf("group by (%s) (%s)", m[2], m[1])
}

func checkQuery(t *testing.T, prom, what, q string) {
	t.Helper()
	res, err := query(prom, q)
	if err != nil {
		t.Errorf("%s: %s: %v", what, q, err)
		return
	}
	if len(res) == 0 {
		t.Errorf("%s: %s: no data", what, q)
		return
	}
	for _, v := range res {
		if !math.IsNaN(v) {
			return
		}
	}
	t.Errorf("%s: %s: only NaN", what, q)
}

// query runs an instant query and returns the sample values.
func query(prom, q string) ([]float64, error) {
	resp, err := http.Get("http://" + prom + "/api/v1/query?query=" + url.QueryEscape(q))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var r struct {
		Status, Error string
		Data          struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return nil, fmt.Errorf("decoding the answer (%s): %w", resp.Status, err)
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("%s: %s", r.Status, r.Error)
	}
	var out []float64
	for _, s := range r.Data.Result {
		str, _ := s.Value[1].(string)
		var f float64
		switch str {
		case "NaN":
			f = math.NaN()
		case "+Inf", "-Inf":
			f = math.Inf(1)
		default:
			if _, err := fmt.Sscan(str, &f); err != nil {
				return nil, fmt.Errorf("value %q: %w", str, err)
			}
		}
		out = append(out, f)
	}
	return out, nil
}

func hasData(t *testing.T, prom, q string) bool {
	res, err := query(prom, q)
	return err == nil && len(res) > 0
}

func waitFor(t *testing.T, limit time.Duration, cond func() bool, logs map[string]*procs.Buffer) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			for name, l := range logs {
				t.Logf("%s log (tail):\n%s", name, tail(l.String(), 1500))
			}
			t.Fatalf("no image server data with 503s in Prometheus within %s", limit)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// load sends a mix for d: the seed URL (cached after the first), distinct
// transforms (cache misses), bursts of them (some shed with 503 by the one
// worker), and a missing image (404).
func load(t *testing.T, base string, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	defer cancel()
	client := &http.Client{Timeout: 10 * time.Second}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				path := seedPath
				switch {
				case w == 0 || (w == 1 && i%2 == 0):
					path = fmt.Sprintf("/assets/images/gophers.jpg?fit=crop&w=%d&h=1024&crop=center&blur=4", 1024-(i*4+w)%900)
				case i%10 == 9:
					path = "/assets/images/missing.jpg?w=100"
				}
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
				if resp, err := client.Do(req); err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
	// Bursts of distinct requests, more than one worker and a queue of two
	// can hold, so some are shed with 503 whatever the machine's speed.
	wg.Go(func() {
		for b := 0; ctx.Err() == nil; b++ {
			var burst sync.WaitGroup
			for j := range 6 {
				burst.Go(func() {
					path := fmt.Sprintf("/assets/images/gophers.jpg?fit=crop&w=512&h=%d&crop=center&blur=4", 1024-(b*6+j)%900)
					req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
					if resp, err := client.Do(req); err == nil {
						_, _ = io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
					}
				})
			}
			burst.Wait()
			time.Sleep(time.Second)
		}
	})
	wg.Wait()
}

// writePrometheusConfig writes deploy/prometheus.yml with the targets
// pointed at the test's servers and a 1 s interval; honor_labels and the
// rest stay as committed.
func writePrometheusConfig(t *testing.T, path, gw, prom string) {
	t.Helper()
	b, err := os.ReadFile("prometheus.yml")
	if err != nil {
		t.Fatal(err)
	}
	s := strings.NewReplacer(`"pushgateway:9091"`, `"`+gw+`"`, `"localhost:9090"`, `"`+prom+`"`).Replace(string(b))
	var cfg map[string]any
	if err := yaml.Unmarshal([]byte(s), &cfg); err != nil {
		t.Fatal(err)
	}
	cfg["global"] = map[string]any{"scrape_interval": "1s", "evaluation_interval": "1s"}
	out, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), gw) {
		t.Fatalf("deploy/prometheus.yml no longer targets pushgateway:9091:\n%s", b)
	}
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	a, err := procs.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}
