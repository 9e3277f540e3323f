package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// phases is what the overload and avif-burst scenarios measure around the
// attack: the rate the same server sustains on its own (overload, first)
// and a burst of AVIF requests during it (avif-burst).
type phases struct {
	sustained     float64 // 200s per second with the workers always busy and no queue
	sustainedRuns int
	burstStart    time.Time
	burstEnd      time.Time
	burst         []vegeta.Result
	wait          func()
}

// burstSize is the number of AVIF requests sent at once in avif-burst.
const burstSize = 20

// startPhases runs what comes before the attack and starts what runs
// during it; wait waits for the latter.
func startPhases(ctx context.Context, c *config, sc scenario, base string, tr *targeter, stderr io.Writer) *phases {
	ph := &phases{wait: func() {}}
	switch sc.name {
	case "overload":
		n := workers(base)
		d := c.Duration / 2
		fmt.Fprintf(stderr, "imagebench: %s: first %s with %d requests always in flight (the sustained rate)\n", c.Name, d, n)
		ph.sustainedRuns, ph.sustained = closedLoop(ctx, tr, n, d, c.Timeout)
	case "avif-burst":
		var wg sync.WaitGroup
		wg.Go(func() {
			// one AVIF first, so that the burst meets a warm AVIF queue
			// (on a cold start it lets only one request per worker wait)
			_, _ = get(&http.Client{Timeout: c.Timeout}, fmt.Sprintf("%s%s&fm=avif&cb=avif-warm", base, SeedPath))
			select {
			case <-time.After(c.Duration / 3):
			case <-ctx.Done():
				return
			}
			ph.burstStart = time.Now()
			ph.burst = avifBurst(ctx, base, burstSize, c.Timeout)
			ph.burstEnd = time.Now()
		})
		ph.wait = wg.Wait
	}
	return ph
}

// workers reads the server's default worker count from its metrics.
func workers(base string) int {
	resp, err := http.Get(base + "/metrics")
	if err == nil {
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, `imageserver_workers{pool="default"} `); ok {
				if n, err := strconv.Atoi(v); err == nil && n > 0 {
					return n
				}
			}
		}
	}
	return runtime.NumCPU()
}

// closedLoop keeps n distinct requests in flight for d and returns how
// many were answered 200 and their rate.
func closedLoop(ctx context.Context, tr *targeter, n int, d, timeout time.Duration) (int, float64) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	client := &http.Client{Timeout: timeout}
	var mu sync.Mutex
	ok := 0
	start := time.Now()
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			for ctx.Err() == nil {
				var t vegeta.Target
				_ = tr.target(&t)
				if code, _ := get(client, t.URL); code == 200 && ctx.Err() == nil {
					mu.Lock()
					ok++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	return ok, float64(ok) / time.Since(start).Seconds()
}

// avifBurst sends n distinct AVIF variants of the seed transform at once.
func avifBurst(ctx context.Context, base string, n int, timeout time.Duration) []vegeta.Result {
	out := make([]vegeta.Result, n)
	client := &http.Client{Timeout: timeout}
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			start := time.Now()
			code, _ := get(client, fmt.Sprintf("%s%s&fm=avif&cb=avif%d&q=%d", base, SeedPath, i, 60-i))
			out[i] = vegeta.Result{Code: uint16(max(0, code)), Timestamp: start, Latency: time.Since(start)}
		})
	}
	wg.Wait()
	return out
}

func get(c *http.Client, url string) (int, error) {
	resp, err := c.Get(url)
	if err != nil {
		return -1, err
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, err
}

// writePhases prints the figures of the phases against the targets: for
// overload the 503s' latency and goodput against the sustained rate, for
// avif-burst the seed's latency before and during the burst.
func writePhases(w io.Writer, sc scenario, o *outcome, ph *phases) {
	switch sc.name {
	case "overload":
		busy := quantiles(o.Results, func(r vegeta.Result) bool { return r.Code == 503 })
		ok := summarize(o.Results).OK
		goodput := float64(ok) / o.Duration.Seconds()
		fmt.Fprintf(w, "sustained on its own (first half-run, workers always busy, no queue): %d responses, %.2f req/s\n", ph.sustainedRuns, ph.sustained)
		fmt.Fprintf(w, "503s: %d, p50 %s p99 %s max %s; goodput %.2f successes/s\n", busy.n, ms(busy.p50), ms(busy.p99), ms(busy.max), goodput)
		fmt.Fprintf(w, "vs target: 503 p99 / 50ms = %.2f, goodput / sustained = %.3f (want >= 0.95), max of 200s / 1s = %.2f\n",
			busy.p99.Seconds()/0.050, goodput/max(ph.sustained, 1e-9), summarize(o.Results).OKMax.Seconds())
	case "avif-burst":
		in := func(a, b time.Time) func(vegeta.Result) bool {
			return func(r vegeta.Result) bool { return r.Code == 200 && !r.Timestamp.Before(a) && r.Timestamp.Before(b) }
		}
		before := quantiles(o.Results, in(o.Start, ph.burstStart))
		during := quantiles(o.Results, in(ph.burstStart, ph.burstEnd))
		got := map[int]int{}
		for _, r := range ph.burst {
			got[int(r.Code)]++
		}
		avif := quantiles(ph.burst, func(r vegeta.Result) bool { return r.Code == 200 })
		fmt.Fprintf(w, "seed 200s before the burst: %d, p50 %s p99 %s max %s\n", before.n, ms(before.p50), ms(before.p99), ms(before.max))
		fmt.Fprintf(w, "seed 200s during the burst (%s): %d, p50 %s p99 %s max %s\n", ms(ph.burstEnd.Sub(ph.burstStart)), during.n, ms(during.p50), ms(during.p99), ms(during.max))
		fmt.Fprintf(w, "%d AVIF requests at once: codes %s, 200s p50 %s max %s\n", len(ph.burst), codes(got), ms(avif.p50), ms(avif.max))
		fmt.Fprintf(w, "vs target: seed p99 during / before = %.2f, seed max during / 1s = %.2f\n",
			during.p99.Seconds()/max(before.p99.Seconds(), 1e-9), during.max.Seconds())
	}
}

type spread struct {
	n             int
	p50, p99, max time.Duration
}

// quantiles of the latencies of the results keep selects.
func quantiles(rs []vegeta.Result, keep func(vegeta.Result) bool) spread {
	var lat []time.Duration
	for _, r := range rs {
		if keep(r) {
			lat = append(lat, r.Latency)
		}
	}
	if len(lat) == 0 {
		return spread{}
	}
	slices.Sort(lat)
	return spread{len(lat), quantile(lat, 0.5), quantile(lat, 0.99), lat[len(lat)-1]}
}
