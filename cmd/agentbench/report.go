package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"time"
)

// Targets of issue 2 for the default configuration.
const (
	targetTotalRatio = 0.45 // hostpush + gateway vs node_exporter + script + gateway
	targetAgentRatio = 0.90 // hostpush vs node_exporter per scrape
	targetRSSMiB     = 18.0 // hostpush peak RSS
)

type row struct {
	name string
	cpu  func(r round) time.Duration
}

var rows = []row{
	{"node_exporter (per scrape)", func(r round) time.Duration { return r.cpu[pNodeExporter] }},
	{"bash + 2 curls (script)", func(r round) time.Duration { return r.script }},
	{"pushgateway A (POST text)", func(r round) time.Duration { return r.cpu[pGatewayA] }},
	{"= replaced setup", replaced},
	{"hostpush (gather + PUT)", func(r round) time.Duration { return r.cpu[pHostpush] }},
	{"pushgateway B (PUT protobuf)", func(r round) time.Duration { return r.cpu[pGatewayB] }},
	{"= hostpush + gateway", hostpushTotal},
}

func replaced(r round) time.Duration {
	return r.cpu[pNodeExporter] + r.script + r.cpu[pGatewayA]
}

func hostpushTotal(r round) time.Duration { return r.cpu[pHostpush] + r.cpu[pGatewayB] }

// pooled sums the rounds into one.
func pooled(rs []round) round {
	var p round
	for _, r := range rs {
		p.cycles += r.cycles
		p.script += r.script
		p.failed += r.failed
		for i := range p.cpu {
			p.cpu[i] += r.cpu[i]
		}
	}
	return p
}

func ratio(a, b time.Duration) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "MISSED"
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

func (res *profileResult) write(w io.Writer) {
	p := pooled(res.rounds)
	fmt.Fprintf(w, "== profile %s: %d rounds x %d cycles per side, period %s\n", res.profile.name, len(res.rounds), res.rounds[0].cycles, res.period)
	if len(res.intervals) > 0 {
		var prod, used []string
		for _, n := range sortedNames(res.intervals) {
			prod = append(prod, fmt.Sprintf("%s: %s", n, res.profile.intervals[n]))
			used = append(used, fmt.Sprintf("%s: %s", n, res.intervals[n]))
		}
		fmt.Fprintf(w, "hostpush collectors.intervals {%s} at push.interval %s,\n  scaled to this period: {%s}; the replaced side has no such option\n",
			strings.Join(prod, ", "), productionInterval, strings.Join(used, ", "))
	}
	fmt.Fprintf(w, "%-30s", "CPU ms per cycle")
	for i := range res.rounds {
		fmt.Fprintf(w, " %7s", fmt.Sprintf("r%d", i+1))
	}
	fmt.Fprintf(w, " %8s\n", "all")
	for _, rw := range rows {
		fmt.Fprintf(w, "%-30s", rw.name)
		for _, r := range res.rounds {
			fmt.Fprintf(w, " %7.2f", ms(rw.cpu(r), r.cycles))
		}
		fmt.Fprintf(w, " %8.2f\n", ms(rw.cpu(p), p.cycles))
	}
	ratioRow := func(name string, f func(r round) float64, target float64) {
		fmt.Fprintf(w, "%-30s", name)
		for _, r := range res.rounds {
			fmt.Fprintf(w, " %6.2fx", f(r))
		}
		v := f(p)
		fmt.Fprintf(w, " %7.2fx  target <= %.2fx: %s\n", v, target, verdict(v <= target))
	}
	ratioRow("hostpush+gw / replaced", func(r round) float64 { return ratio(hostpushTotal(r), replaced(r)) }, targetTotalRatio)
	ratioRow("hostpush / node_exporter", func(r round) float64 { return ratio(r.cpu[pHostpush], r.cpu[pNodeExporter]) }, targetAgentRatio)
	hp, ne := res.mem[pHostpush], res.mem[pNodeExporter]
	fmt.Fprintf(w, "peak RSS (VmHWM) MiB: hostpush %.1f (%.1f MB), target <= %.0f: %s; node_exporter %.1f (%.1f MB); ratio %.2fx\n",
		mib(hp.PeakRSS), float64(hp.PeakRSS)/1e6, targetRSSMiB, verdict(mib(hp.PeakRSS) <= targetRSSMiB), mib(ne.PeakRSS), float64(ne.PeakRSS)/1e6, ratio(time.Duration(hp.PeakRSS), time.Duration(ne.PeakRSS)))
	fmt.Fprintf(w, "  RSS at end, anon + file MiB: hostpush %.1f + %.1f, node_exporter %.1f + %.1f; peak RSS pushgateway A %.1f, B %.1f\n",
		mib(hp.RSSAnon), mib(hp.RSSFile), mib(ne.RSSAnon), mib(ne.RSSFile), mib(res.mem[pGatewayA].PeakRSS), mib(res.mem[pGatewayB].PeakRSS))
	fmt.Fprintf(w, "series in the group: replaced %d, hostpush %d; collectors reporting: replaced %d, hostpush %d%s\n",
		res.groupA.Series, res.groupB.Series, len(res.groupA.Collectors), len(res.groupB.Collectors), sameSet(res.groupA.Collectors, res.groupB.Collectors))
	fmt.Fprintf(w, "  failing here (node_scrape_collector_success 0): replaced [%s], hostpush [%s]\n",
		strings.Join(res.groupA.Failed, " "), strings.Join(res.groupB.Failed, " "))
	fmt.Fprintf(w, "  families only in hostpush's group: [%s]; only in the replaced group: [%s]\n",
		strings.Join(onlyIn(res.groupB.Families, res.groupA.Families), " "), strings.Join(onlyIn(res.groupA.Families, res.groupB.Families), " "))
	fmt.Fprintf(w, "hostpush: pushes ok %.0f, failed %.0f, ticks skipped %.0f, collector deadline misses logged %d; script cycles that failed: %d\n",
		res.groupB.PushesOK, res.groupB.PushesFailed, res.groupB.TicksSkipped, res.deadlineMisses, p.failed)
}

func sameSet(a, b []string) string {
	if slices.Equal(a, b) {
		return " (same set)"
	}
	var onlyA, onlyB []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			onlyA = append(onlyA, x)
		}
	}
	for _, x := range b {
		if !slices.Contains(a, x) {
			onlyB = append(onlyB, x)
		}
	}
	return fmt.Sprintf(" (DIFFERENT: only replaced [%s], only hostpush [%s])", strings.Join(onlyA, " "), strings.Join(onlyB, " "))
}

func onlyIn(a, b map[string]bool) []string {
	var out []string
	for n := range a {
		if !b[n] {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

func hostname() string {
	h, err := os.Hostname()
	if err != nil {
		return "(unknown host)"
	}
	return h
}

func numCPU() int { return runtime.NumCPU() }

func hostpushVersion(ctx context.Context, bin string) string {
	out, err := exec.CommandContext(ctx, bin, "--version").CombinedOutput()
	if err != nil {
		return "(version unknown)"
	}
	first, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return strings.TrimPrefix(first, "hostpush, ")
}
