package main

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// summary holds the figures the report prints, exact rather than vegeta's
// t-digest estimates.
type summary struct {
	Requests           int
	OK                 int     // 2xx/3xx responses
	Success            float64 // OK / Requests
	P50, P95, P99, Max time.Duration
	// The same over successful responses only: under overload the 503s
	// are fast and hide what a served request costs.
	OKP50, OKP99, OKMax time.Duration
	Codes               map[int]int
}

func summarize(rs []vegeta.Result) summary {
	s := summary{Requests: len(rs), Codes: map[int]int{}}
	lat := make([]time.Duration, 0, len(rs))
	var okLat []time.Duration
	for _, r := range rs {
		lat = append(lat, r.Latency)
		s.Codes[int(r.Code)]++
		if r.Code >= 200 && r.Code < 400 {
			okLat = append(okLat, r.Latency)
		}
	}
	if len(rs) == 0 {
		return s
	}
	slices.Sort(lat)
	slices.Sort(okLat)
	s.OK = len(okLat)
	s.Success = float64(s.OK) / float64(len(rs))
	if s.OK > 0 {
		s.OKP50, s.OKP99, s.OKMax = quantile(okLat, 0.5), quantile(okLat, 0.99), okLat[len(okLat)-1]
	}
	s.P50, s.P95, s.P99 = quantile(lat, 0.50), quantile(lat, 0.95), quantile(lat, 0.99)
	s.Max = lat[len(lat)-1]
	return s
}

func writeReport(w io.Writer, c *config, o *outcome) {
	s := summarize(o.Results)
	fmt.Fprintf(w, "\n== %s: %d req/s for %s%s ==\n", c.Name, c.Rate, c.Duration, bustNote(c.CacheBust))
	_ = vegeta.NewTextReporter(&o.Metrics).Report(w)
	fmt.Fprintln(w)
	_ = vegeta.NewHistogramReporter(&o.Hist).Report(w)
	fmt.Fprintf(w, "\nRequests %d   success %.2f%%   codes %s\n", s.Requests, 100*s.Success, codes(s.Codes))
	fmt.Fprintf(w, "Latency  p50 %s   p95 %s   p99 %s   max %s\n", ms(s.P50), ms(s.P95), ms(s.P99), ms(s.Max))
	if s.OK < s.Requests && s.OK > 0 {
		fmt.Fprintf(w, "Served   %d successful: p50 %s   p99 %s   max %s\n", s.OK, ms(s.OKP50), ms(s.OKP99), ms(s.OKMax))
	}
	if o.Sampled {
		fmt.Fprintf(w, "Server   CPU %.2f s (%s per request, %s per successful one; %.2f cores average)   peak RSS %.1f MB\n",
			o.CPU, perMs(o.CPU, s.Requests), perMs(o.CPU, s.OK), o.CPU/o.Duration.Seconds(), float64(o.PeakRSS)/(1<<20))
	}
	if len(o.Metrics.Errors) > 0 {
		fmt.Fprintf(w, "Errors   %s\n", strings.Join(firstN(o.Metrics.Errors, 5), "; "))
	}
}

// perMs is seconds spread over n, in ms.
func perMs(seconds float64, n int) string {
	if n == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.1f ms", 1000*seconds/float64(n))
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
}

func codes(m map[int]int) string {
	keys := make([]int, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%d:%d", k, m[k]))
	}
	return strings.Join(parts, " ")
}

func firstN(s []string, n int) []string {
	if len(s) > n {
		return append(s[:n:n], fmt.Sprintf("(%d more)", len(s)-n))
	}
	return s
}
