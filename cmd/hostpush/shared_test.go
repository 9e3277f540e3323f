package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/hostpush/hostpush/internal/procs"
)

// observation is what one scrape of /metrics or one read of the pushed
// group showed: the collectors that reported failure, and the families.
type observation struct {
	where    string
	failed   []string
	families map[string]bool
}

func observe(where string, fams map[string]*dto.MetricFamily, host string) observation {
	o := observation{where: where, families: map[string]bool{}}
	for name, f := range fams {
		for _, m := range f.GetMetric() {
			if host != "" && labelOf(m, "instance") != host {
				continue
			}
			o.families[name] = true
			if name == "node_scrape_collector_success" && m.GetGauge().GetValue() == 0 {
				o.failed = append(o.failed, labelOf(m, "collector"))
			}
		}
	}
	slices.Sort(o.failed)
	return o
}

func labelOf(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

func parseText(r io.Reader) (map[string]*dto.MetricFamily, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	return p.TextToMetricFamilies(r)
}

// TestScrapesShareGathers scrapes /metrics 150 times, from three clients at
// once, while hostpush pushes every second to a real Pushgateway. A scrape
// that comes during a gather must get that gather's result: before gathers
// were shared, such overlaps reported collectors as "previous run still in
// flight" and dropped their series from the push. /metrics must also serve
// what is pushed, the remote_write output's own metrics included.
func TestScrapesShareGathers(t *testing.T) {
	gw, web := freeAddr(t), freeAddr(t)
	startGateway(t, gw)
	host := hostname(t)
	cfg := filepath.Join(t.TempDir(), "hostpush.yml")
	// The remote_write receiver is down: its output still has metrics.
	// The collectors get most of the second, so a deadline missed on a
	// loaded machine does not pass for an overlap.
	body := fmt.Sprintf("push: {url: \"http://%s\", interval: 1s}\ncollectors: {timeout: 900ms}\nremote_write:\n  - url: http://127.0.0.1:1/api/v1/write\n", gw)
	if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr := startAgent(t, "--config.file="+cfg, "--web.listen-address="+web, "--log.level=info")
	waitFor(t, "the first push", 20*time.Second, func() bool { return gatewayGroup(t, gw, "host-stats", host)["node_uname_info"] > 0 })

	var (
		mu   sync.Mutex
		obs  []observation
		errs []error
		wg   sync.WaitGroup
	)
	record := func(o observation, err error) {
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			errs = append(errs, err)
			return
		}
		obs = append(obs, o)
	}
	stop := make(chan struct{})
	for c := range 3 {
		wg.Go(func() {
			for i := range 50 {
				fams, err := procs.Scrape(t.Context(), "http://"+web+"/metrics")
				record(observe(fmt.Sprintf("scrape %d of client %d", i+1, c+1), fams, ""), err)
				time.Sleep(time.Duration(7+13*c) * time.Millisecond)
			}
		})
	}
	var pushed sync.WaitGroup
	pushed.Go(func() {
		for i := 0; ; i++ {
			fams, err := procs.Scrape(t.Context(), "http://"+gw+"/metrics")
			record(observe(fmt.Sprintf("pushed group, read %d", i+1), fams, host), err)
			select {
			case <-stop:
				return
			case <-time.After(400 * time.Millisecond):
			}
		}
	})
	wg.Wait()
	close(stop)
	pushed.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d of the reads failed, first: %v", len(errs), errs[0])
	}

	log := stderr.String()
	if strings.Contains(log, errInFlightText) {
		t.Errorf("a collector was reported %q: a scrape started a second gather\n%s", errInFlightText, grepLines(log, errInFlightText))
	}
	checkObservations(t, obs, log)
}

const errInFlightText = "previous run still in flight"

// checkObservations fails for a collector that failed in some observations
// and not in others, unless hostpush logged that it missed its deadline
// (a loaded machine, not an overlap); collectors that fail in every one
// fail on this host whatever the timing. Every observation must hold the
// remote_write output's metrics and no go_*.
func checkObservations(t *testing.T, obs []observation, log string) {
	t.Helper()
	scrapes, pushes := 0, 0
	count := map[string]int{}
	for _, o := range obs {
		if strings.HasPrefix(o.where, "scrape") {
			scrapes++
		} else {
			pushes++
		}
		for _, c := range o.failed {
			count[c]++
		}
		if !o.families["hostpush_remote_write_retries_total"] || !o.families["node_uname_info"] {
			t.Errorf("%s lacks node_uname_info or the remote_write output's metrics", o.where)
		}
		for f := range o.families {
			if strings.HasPrefix(f, "go_") {
				t.Errorf("%s has %s", o.where, f)
			}
		}
	}
	if scrapes != 150 || pushes < 3 {
		t.Fatalf("%d scrapes and %d reads of the pushed group, want 150 and at least 3", scrapes, pushes)
	}
	for c, n := range count {
		if n == len(obs) {
			continue
		}
		if regexp.MustCompile(`collector=` + regexp.QuoteMeta(c) + ` .*missed its deadline`).MatchString(log) {
			t.Logf("collector %s failed in %d of %d observations, having missed its deadline (a loaded machine)", c, n, len(obs))
			continue
		}
		var where []string
		for _, o := range obs {
			if slices.Contains(o.failed, c) {
				where = append(where, o.where)
			}
		}
		t.Errorf("collector %s failed in %d of %d observations (%s) without a deadline miss", c, n, len(obs), strings.Join(where[:min(5, len(where))], ", "))
	}
	t.Logf("%d scrapes, %d reads of the pushed group; collectors failing in all of them (absent on this host): %d", scrapes, pushes, len(failedEverywhere(count, len(obs))))
}

func failedEverywhere(count map[string]int, n int) []string {
	var out []string
	for c, k := range count {
		if k == n {
			out = append(out, c)
		}
	}
	return out
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out[:min(5, len(out))], "\n")
}
