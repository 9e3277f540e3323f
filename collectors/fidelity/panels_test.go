package fidelity

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
)

// dashboard is the part of a Grafana dashboard's JSON the test reads.
type dashboard struct {
	Version    int     `json:"version"`
	Panels     []panel `json:"panels"`
	Templating struct {
		List []variable `json:"list"`
	} `json:"templating"`
}

type panel struct {
	Title   string   `json:"title"`
	Type    string   `json:"type"`
	Panels  []panel  `json:"panels"` // a collapsed row's panels
	Targets []target `json:"targets"`
}

type target struct {
	Expr  string `json:"expr"`
	Hide  bool   `json:"hide"`
	RefID string `json:"refId"`
}

type variable struct {
	Name  string          `json:"name"`
	Query json.RawMessage `json:"query"`
}

// queryText is a variable's query, which Grafana stores as a string or as
// {"query": "..."}.
func (v variable) queryText() string {
	var s string
	if json.Unmarshal(v.Query, &s) == nil {
		return s
	}
	var o struct {
		Query string `json:"query"`
	}
	_ = json.Unmarshal(v.Query, &o)
	return o.Query
}

// panels lists the dashboard's panels, rows' panels included, rows left out.
func (d *dashboard) panels() []panel {
	var out []panel
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			walk(p.Panels)
			if p.Type != "row" {
				out = append(out, p)
			}
		}
	}
	walk(d.Panels)
	return out
}

func loadDashboard(t *testing.T) *dashboard {
	t.Helper()
	p := dashboardJSON(t)
	if p == "" {
		t.Log("../shared/dashboards/node-exporter-full.json not found beside the repository: names come from testdata only, panels are not evaluated")
		return nil
	}
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatalf("%s: %v", p, err)
	}
	if len(d.panels()) == 0 {
		t.Fatalf("%s: no panels found", p)
	}
	return &d
}

var varRe = regexp.MustCompile(`\$\{(\w+)\}|\$(\w+)`)

// substitute replaces $name and ${name} with vars[name]; an unknown
// variable is an error, so a new one in the dashboard is noticed.
func substitute(expr string, vars map[string]string) (string, error) {
	var missing []string
	out := varRe.ReplaceAllStringFunc(expr, func(m string) string {
		sm := varRe.FindStringSubmatch(m)
		name := sm[1] + sm[2]
		v, ok := vars[name]
		if !ok {
			missing = append(missing, m)
			return m
		}
		return v
	})
	if len(missing) > 0 {
		return "", fmt.Errorf("unknown variable(s) %s in %q", strings.Join(missing, ", "), expr)
	}
	return out, nil
}

// checkPanels evaluates every visible query of every panel over the last
// window, as Grafana's range queries do, and reports how many panels show
// data. A panel without data must use a name that is (explained) absent.
func checkPanels(t *testing.T, prom promClient, d *dashboard, vars map[string]string, absent map[string]bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	end := time.Now()
	var withData, partial int
	var empty, unexplained, partly []string
	panels := d.panels()
	for _, p := range panels {
		got, want := 0, 0
		var missing []string
		for _, tg := range p.Targets {
			if tg.Hide || tg.Expr == "" {
				continue
			}
			want++
			q, err := substitute(tg.Expr, vars)
			if err != nil {
				t.Errorf("panel %q: %v", p.Title, err)
				continue
			}
			n, err := prom.queryRange(ctx, q, end.Add(-10*time.Second), end, pushInterval)
			if err != nil {
				t.Errorf("panel %q target %s: %v", p.Title, tg.RefID, err)
				continue
			}
			if n > 0 {
				got++
			}
			for _, name := range metricNameRe.FindAllString(tg.Expr, -1) {
				if absent[name] {
					missing = append(missing, name)
				}
			}
		}
		switch {
		case got == want && got > 0:
			withData++
		case got > 0:
			withData++
			partial++
			partly = append(partly, fmt.Sprintf("  %-40s %d of %d queries; absent: %s", p.Title, got, want, strings.Join(dedup(missing), ", ")))
		case len(missing) > 0:
			empty = append(empty, fmt.Sprintf("  %-40s absent: %s", p.Title, strings.Join(dedup(missing), ", ")))
		default:
			// Every metric is there: the selected label values (a TCP state
			// no connection is in) or a filter (> 0) match nothing now.
			// That is only fine if the labels it selects on exist.
			if bad := missingLabels(ctx, t, prom, p, vars); len(bad) > 0 {
				unexplained = append(unexplained, fmt.Sprintf("  %-40s %s", p.Title, strings.Join(bad, "; ")))
			}
			empty = append(empty, fmt.Sprintf("  %-40s metrics present; the selected label values or the filter match nothing on this machine now", p.Title))
		}
	}
	t.Logf("dashboard %d panels: %d of %d return data (%d of them with some queries empty), %d empty",
		d.Version, withData, len(panels), partial, len(empty))
	if len(partly) > 0 {
		t.Logf("panels with some queries empty:\n%s", strings.Join(partly, "\n"))
	}
	if len(empty) > 0 {
		t.Logf("empty panels:\n%s", strings.Join(empty, "\n"))
	}
	if len(unexplained) > 0 {
		t.Errorf("%d panels return no data and select on labels their metrics lack:\n%s", len(unexplained), strings.Join(unexplained, "\n"))
	}
}

// selectorRe finds a metric selector with label matchers in PromQL, and
// matcherRe the label names inside it.
var (
	selectorRe = regexp.MustCompile(`\b((?:node|process)_[A-Za-z0-9_]+)\{([^}]*)\}`)
	matcherRe  = regexp.MustCompile(`(\w+)\s*(?:=~|!~|!=|=)\s*"`)
)

// missingLabels lists, for the panel's visible queries, the label names
// that a selector matches on but that the metric does not carry for the
// dashboard's job and instance.
func missingLabels(ctx context.Context, t *testing.T, prom promClient, p panel, vars map[string]string) []string {
	t.Helper()
	var bad []string
	for _, tg := range p.Targets {
		if tg.Hide {
			continue
		}
		for _, sel := range selectorRe.FindAllStringSubmatch(tg.Expr, -1) {
			for _, m := range matcherRe.FindAllStringSubmatch(sel[2], -1) {
				label := m[1]
				if label == "job" || label == "instance" {
					continue
				}
				q := fmt.Sprintf(`count by (%s) (last_over_time(%s{job=%q,instance=%q,%s!=""}[%s]))`, label, sel[1], vars["job"], vars["node"], label, window)
				res, err := prom.query(ctx, q, time.Now())
				if err != nil {
					t.Errorf("panel %q: %v", p.Title, err)
					continue
				}
				if len(res) == 0 {
					bad = append(bad, fmt.Sprintf("%s has no label %q", sel[1], label))
				}
			}
		}
	}
	return uniq(bad)
}

// dedup sorts s and drops repeats; for display, none becomes "(none)".
func dedup(s []string) []string {
	if out := uniq(s); len(out) > 0 {
		return out
	}
	return []string{"(none)"}
}

func uniq(s []string) []string {
	sort.Strings(s)
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

// queryRange runs a range query and returns how many series it found.
func (c promClient) queryRange(ctx context.Context, q string, start, end time.Time, step time.Duration) (int, error) {
	form := url.Values{
		"query": {q},
		"start": {fmt.Sprintf("%.3f", float64(start.UnixMilli())/1000)},
		"end":   {fmt.Sprintf("%.3f", float64(end.UnixMilli())/1000)},
		"step":  {fmt.Sprintf("%gs", step.Seconds())},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/api/v1/query_range", strings.NewReader(form.Encode()))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return 0, fmt.Errorf("query_range %q: decoding the answer (%s): %w", q, resp.Status, err)
	}
	if r.Status != "success" {
		return 0, fmt.Errorf("query_range %q: %s", q, r.Error)
	}
	return len(r.Data.Result), nil
}

func TestSubstitute(t *testing.T) {
	vars := map[string]string{"job": "host-stats", "node": "vm1", "nodename": "vm1.example", "__rate_interval": "4s"}
	tests := []struct{ name, expr, want, err string }{
		{"plain", `rate(x{instance="$node",job="$job"}[$__rate_interval])`, `rate(x{instance="vm1",job="host-stats"}[4s])`, ""},
		{"longer name is not a prefix match", `x{nodename="$nodename",instance="$node"}`, `x{nodename="vm1.example",instance="vm1"}`, ""},
		{"braces", `x{job="${job}"}`, `x{job="host-stats"}`, ""},
		{"unknown variable", `x{dev=~"$diskdevices"}`, "", `unknown variable(s) $diskdevices`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := substitute(tc.expr, vars)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Errorf("substitute(%q) error = %v, want %q", tc.expr, err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("substitute(%q) = %q, %v; want %q", tc.expr, got, err, tc.want)
			}
		})
	}
}
