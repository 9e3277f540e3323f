package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/hostpush/hostpush/agent/remotewrite"
	"github.com/hostpush/hostpush/internal/batch"
	"github.com/hostpush/hostpush/internal/procs"
)

// gather is the recorded gather every simulated host pushes.
type gather struct {
	families []*dto.MetricFamily
	series   int
	pgBody   []byte // protobuf-delimited, as hostpush PUTs it
}

func parseGather(text []byte) (*gather, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	m, err := p.TextToMetricFamilies(bytes.NewReader(text))
	if err != nil {
		return nil, fmt.Errorf("parsing the gather: %w", err)
	}
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	g := &gather{}
	var body bytes.Buffer
	enc := expfmt.NewEncoder(&body, expfmt.NewFormat(expfmt.TypeProtoDelim))
	for _, n := range names {
		g.families = append(g.families, m[n])
		if err := enc.Encode(m[n]); err != nil {
			return nil, fmt.Errorf("encoding %s: %w", n, err)
		}
	}
	g.series = batch.CountSeries(g.families)
	g.pgBody = body.Bytes()
	if g.series == 0 {
		return nil, fmt.Errorf("the gather holds no series")
	}
	return g, nil
}

// result is one run: one receiver, one fleet size.
type result struct {
	receiver      string
	hosts         int
	elapsed       time.Duration
	pushes        int
	errors        int
	firstErr      string
	lat           []time.Duration // every push, failed ones included
	cpu           time.Duration   // receiver CPU during the run
	selfCPU       time.Duration   // fleetsim's own CPU during the run
	peakRSS       int64           // receiver VmHWM, bytes
	samples       int             // samples accepted
	stored        int             // series stored (VictoriaMetrics), -1 unknown
	scrape        time.Duration   // one GET /metrics of the Pushgateway after the run
	scrapeSize    int
	load          string        // /proc/loadavg 1-minute figure at the end: how busy the machine was
	onboard       time.Duration // until every host had pushed once
	onboardErrors int           // hosts that failed to push even once
}

func (r *result) record(d time.Duration, err error, series int) {
	r.pushes++
	r.lat = append(r.lat, d)
	if err != nil {
		r.errors++
		if r.firstErr == "" {
			r.firstErr = err.Error()
		}
		return
	}
	r.samples += series
}

func (r result) pct(p float64) time.Duration {
	if len(r.lat) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), r.lat...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[min(len(s)-1, int(p*float64(len(s))))]
}

func (r result) summary() string {
	return fmt.Sprintf("%s hosts=%d onboard=%s(%d failed) pushes=%d errors=%d p50=%s p90=%s p99=%s max=%s cpu=%.2fs/s rss=%dMiB",
		r.receiver, r.hosts, r.onboard.Round(100*time.Millisecond), r.onboardErrors, r.pushes, r.errors, r.pct(0.5).Round(100*time.Microsecond), r.pct(0.9).Round(100*time.Microsecond),
		r.pct(0.99).Round(100*time.Microsecond), r.pct(1).Round(100*time.Microsecond),
		r.cpu.Seconds()/r.elapsed.Seconds(), r.peakRSS>>20)
}

// simulate starts a fresh receiver, lets n hosts push on the cadence with
// start offsets spread over one interval, and measures.
func simulate(ctx context.Context, o *options, g *gather, recv string, n int) (result, error) {
	res := result{receiver: recv, hosts: n, stored: -1}
	addr, err := procs.FreeAddr()
	if err != nil {
		return res, err
	}
	out := io.Discard
	if o.logDir != "" {
		f, err := os.Create(filepath.Join(o.logDir, fmt.Sprintf("%s-%d.log", recv, n)))
		if err != nil {
			return res, err
		}
		defer f.Close()
		out = f
	}
	p, err := startReceiver(ctx, recv, addr, out)
	if err != nil {
		return res, err
	}
	defer p.Stop(30 * time.Second)

	client := &http.Client{Timeout: o.timeout, Transport: &http.Transport{
		MaxIdleConns: n + 10, MaxIdleConnsPerHost: n + 10, IdleConnTimeout: 2 * o.interval, DisableCompression: true,
	}}
	defer client.CloseIdleConnections()

	hosts := make([]*host, n)
	for i := range hosts {
		hosts[i] = &host{name: fmt.Sprintf("host-%04d", i), recv: recv, addr: addr, client: client, g: g, enc: remotewrite.NewEncoder(nil)}
	}
	// Onboarding: every host pushes once, spread over one interval, with a
	// generous timeout, so the receiver holds every group or series before
	// the steady state is measured. A fleet rarely appears all at once;
	// how long this takes is reported on its own.
	if err := onboard(ctx, hosts, o, &res); err != nil {
		return res, err
	}
	if recv == "victoria-metrics" {
		waitSeries(ctx, addr, n*g.series, time.Minute)
	}

	start := time.Now()
	measureFrom := start.Add(o.warmup)
	runCtx, cancel := context.WithDeadline(ctx, measureFrom.Add(o.duration))
	defer cancel()
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i, h := range hosts {
		wg.Go(func() {
			offset := o.interval * time.Duration(i) / time.Duration(n)
			if !sleepCtx(runCtx, offset) {
				return
			}
			tick := time.NewTicker(o.interval)
			defer tick.Stop()
			for {
				began := time.Now()
				d, err := h.push(ctx)
				if began.After(measureFrom) {
					mu.Lock()
					res.record(d, err, g.series)
					mu.Unlock()
				}
				select {
				case <-runCtx.Done():
					return
				case <-tick.C:
				}
			}
		})
	}
	sleepCtx(ctx, time.Until(measureFrom))
	u0, err := procs.ReadUsage(p.Pid())
	if err != nil {
		return res, err
	}
	self0, _ := procs.ReadUsage(os.Getpid())
	wg.Wait()
	res.elapsed = time.Since(measureFrom)
	u1, err := procs.ReadUsage(p.Pid())
	if err != nil {
		return res, err
	}
	self1, _ := procs.ReadUsage(os.Getpid())
	res.cpu, res.selfCPU, res.peakRSS = u1.CPU-u0.CPU, self1.CPU-self0.CPU, u1.PeakRSS
	if l, err := procs.LoadAvg(); err == nil {
		res.load = strconv.FormatFloat(l.Load1, 'f', 2, 64)
	}
	switch recv {
	case "victoria-metrics":
		res.stored = vmSeriesCount(addr)
	case "pushgateway":
		res.scrape, res.scrapeSize = timeGet("http://" + addr + "/metrics")
	}
	return res, nil
}

func startReceiver(ctx context.Context, recv, addr string, out io.Writer) (*procs.Proc, error) {
	switch recv {
	case "pushgateway":
		return procs.StartPushgateway(ctx, addr, out)
	case "victoria-metrics":
		bin, err := procs.LookPath("victoria-metrics", "victoria-metrics")
		if err != nil {
			return nil, err
		}
		dir, err := os.MkdirTemp("", "fleetsim-vm-")
		if err != nil {
			return nil, err
		}
		p, err := procs.Start("victoria-metrics", bin, []string{"-storageDataPath=" + dir, "-httpListenAddr=" + addr,
			"-search.latencyOffset=0s", "-loggerLevel=ERROR"}, out)
		if err != nil {
			return nil, err
		}
		go func() { <-p.Done(); os.RemoveAll(dir) }()
		wctx, cancel := context.WithTimeout(ctx, procs.StartTimeout)
		defer cancel()
		if err := procs.WaitHTTP(wctx, p, "http://"+addr+"/health"); err != nil {
			p.Stop(5 * time.Second)
			return nil, err
		}
		return p, nil
	}
	return nil, fmt.Errorf("unknown receiver %q", recv)
}

// onboard has every host push once, spread over one interval, each
// retrying up to three times with a 60 s timeout, all within onboardLimit
// after the interval; hosts that never got through are counted.
func onboard(ctx context.Context, hosts []*host, o *options, res *result) error {
	slow := &http.Client{Timeout: time.Minute, Transport: hosts[0].client.Transport}
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, o.interval+onboardLimit)
	defer cancel()
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i, h := range hosts {
		wg.Go(func() {
			if !sleepCtx(ctx, o.interval*time.Duration(i)/time.Duration(len(hosts))) {
				return
			}
			hs := *h
			hs.client = slow
			for try := 0; try < 3; try++ {
				if _, err := hs.push(ctx); err == nil {
					return
				} else if try == 2 {
					mu.Lock()
					res.onboardErrors++
					if res.firstErr == "" {
						res.firstErr = "onboarding: " + err.Error()
					}
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	res.onboard = time.Since(start)
	return nil
}

// onboardLimit bounds onboarding after the last host's start offset.
const onboardLimit = time.Minute

// waitSeries polls VictoriaMetrics until it reports want series or the
// timeout passes.
func waitSeries(ctx context.Context, addr string, want int, timeout time.Duration) {
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline) && ctx.Err() == nil; time.Sleep(500 * time.Millisecond) {
		if vmSeriesCount(addr) >= want {
			return
		}
	}
}

// host is one simulated hostpush.
type host struct {
	name, recv, addr string
	client           *http.Client
	g                *gather
	enc              *remotewrite.Encoder
}

// push sends one gather the way hostpush does: a PUT of the group to the
// Pushgateway, or one remote_write request stamped now.
func (h *host) push(ctx context.Context) (time.Duration, error) {
	start := time.Now()
	var req *http.Request
	switch h.recv {
	case "pushgateway":
		req, _ = http.NewRequestWithContext(ctx, http.MethodPut, "http://"+h.addr+"/metrics/job/host-stats/instance/"+h.name, bytes.NewReader(h.g.pgBody))
		req.Header.Set("Content-Type", string(expfmt.NewFormat(expfmt.TypeProtoDelim)))
	default:
		b := &batch.Batch{Time: start, Grouping: []batch.Label{{Name: "instance", Value: h.name}},
			Groups: []batch.Group{{Job: "host-stats", Families: h.g.families}}}
		body, _ := h.enc.Encode(b)
		req, _ = http.NewRequestWithContext(ctx, http.MethodPost, "http://"+h.addr+"/api/v1/write", bytes.NewReader(body))
		remotewrite.SetHeaders(req.Header)
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return time.Since(start), err
	}
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	d := time.Since(start)
	if resp.StatusCode/100 != 2 {
		return d, fmt.Errorf("status %d: %s", resp.StatusCode, strings.TrimSpace(string(msg)))
	}
	return d, nil
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func vmSeriesCount(addr string) int {
	c := &http.Client{Timeout: 30 * time.Second}
	if resp, err := c.Get("http://" + addr + "/internal/force_flush"); err == nil {
		resp.Body.Close()
	}
	resp, err := c.Get("http://" + addr + "/api/v1/series/count")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	var r struct{ Data []int }
	if json.NewDecoder(resp.Body).Decode(&r) != nil || len(r.Data) == 0 {
		return -1
	}
	return r.Data[0]
}

func timeGet(url string) (time.Duration, int) {
	c := &http.Client{Timeout: 60 * time.Second}
	start := time.Now()
	resp, err := c.Get(url)
	if err != nil {
		return -1, 0
	}
	defer resp.Body.Close()
	n, _ := io.Copy(io.Discard, resp.Body)
	return time.Since(start), int(n)
}

func numCPU() int { return runtime.NumCPU() }

func printTable(w io.Writer, rs []result) {
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| receiver | hosts | pushes | errors | p50 ms | p99 ms | receiver CPU s/s | receiver peak RSS MiB | samples/s accepted | series stored | fleetsim CPU s/s | load avg | onboarding s (failed hosts) | PG /metrics scrape |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
	for _, r := range rs {
		sec := r.elapsed.Seconds()
		stored, scrape := "-", "-"
		if r.stored >= 0 {
			stored = strconv.Itoa(r.stored)
		}
		if r.receiver == "pushgateway" {
			scrape = fmt.Sprintf("%.2f s, %.1f MB", r.scrape.Seconds(), float64(r.scrapeSize)/1e6)
		}
		fmt.Fprintf(w, "| %s | %d | %d | %d | %.1f | %.1f | %.3f | %.0f | %.0f | %s | %.3f | %s | %.1f (%d) | %s |\n",
			r.receiver, r.hosts, r.pushes, r.errors, ms(r.pct(0.5)), ms(r.pct(0.99)), r.cpu.Seconds()/sec,
			float64(r.peakRSS)/(1<<20), float64(r.samples)/sec, stored, r.selfCPU.Seconds()/sec, r.load, r.onboard.Seconds(), r.onboardErrors, scrape)
	}
	for _, r := range rs {
		if r.firstErr != "" {
			fmt.Fprintf(w, "\nfirst error, %s with %d hosts: %s", r.receiver, r.hosts, r.firstErr)
		}
	}
	fmt.Fprintln(w)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// printBreakpoints names, per receiver, the largest fleet whose pushes
// failed (timeout or error status) at most 1 % of the time, and the first
// that did not. Latency is in the table; a slow push that lands in time
// still delivers.
func printBreakpoints(w io.Writer, rs []result, o *options) {
	fmt.Fprintln(w)
	for _, recv := range o.receivers {
		ok, bad := 0, 0
		for _, r := range rs {
			if r.receiver != recv {
				continue
			}
			healthy := r.pushes > 0 && r.errors*100 <= r.pushes
			if healthy && bad == 0 {
				ok = r.hosts
			} else if !healthy && bad == 0 {
				bad = r.hosts
			}
		}
		switch {
		case bad == 0:
			fmt.Fprintf(w, "%s: kept up with every fleet size tried (largest %d hosts)\n", recv, ok)
		default:
			fmt.Fprintf(w, "%s: kept up to %d hosts; at %d hosts more than 1%% of pushes failed (timeout %s)\n", recv, ok, bad, o.timeout)
		}
	}
}
