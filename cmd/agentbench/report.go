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

	"github.com/hostpush/hostpush/internal/hostload"
)

// Targets of issue 10: hostpush against node_exporter per host size,
// against its own collector floor, and with its gateway against the
// replaced setup.
const (
	targetTotalRatio = 0.45 // hostpush + gateway vs node_exporter + script + gateway
	targetFloorRatio = 1.30 // hostpush vs the sum of its collectors run alone
)

var targetAgentRatio = map[string]float64{"host": 0.70, "medium": 0.40, "large": 0.30}

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

// windows returns the measured windows of one size, one per round.
func windows(runs []sizeRun) []round {
	out := make([]round, len(runs))
	for i, r := range runs {
		out[i] = r.side.rd
	}
	return out
}

// writeSize prints one size's table: CPU per cycle of every process per
// round and pooled, the collector floor, the ratios against their targets,
// memory and what the groups held.
func writeSize(w io.Writer, c *Config, size string, runs []sizeRun) {
	rs := windows(runs)
	p := pooled(rs)
	spec, _ := hostload.ParseSize(size)
	fmt.Fprintf(w, "== size %s (+%d processes / %d threads): %d rounds x %d cycles per side, period %s\n",
		size, spec.Procs, spec.Threads, len(runs), c.Cycles, c.Period)
	for _, r := range runs {
		fmt.Fprintf(w, "  round %d: host had %d processes, %d threads at the start, %d, %d at the end; load average %s\n",
			r.round, r.host.procs, r.host.threads, r.hostEnd.procs, r.hostEnd.threads, r.loadBefore)
	}
	fmt.Fprintf(w, "%-34s", "CPU ms per cycle")
	for i := range rs {
		fmt.Fprintf(w, " %7s", fmt.Sprintf("r%d", i+1))
	}
	fmt.Fprintf(w, " %8s\n", "all")
	for _, rw := range rows {
		fmt.Fprintf(w, "%-34s", rw.name)
		for _, r := range rs {
			fmt.Fprintf(w, " %7.2f", ms(rw.cpu(r), r.cycles))
		}
		fmt.Fprintf(w, " %8.2f\n", ms(rw.cpu(p), p.cycles))
	}
	floors := make([]float64, len(runs))
	fl := 0.0
	fmt.Fprintf(w, "%-34s", "collector floor (each alone, sum)")
	for i, r := range runs {
		floors[i] = r.floor.total()
		fl += floors[i] / float64(len(runs))
		fmt.Fprintf(w, " %7.2f", floors[i])
	}
	fmt.Fprintf(w, " %8.2f\n", fl)
	fmt.Fprintf(w, "%-34s", "hostpush above the floor")
	for i, r := range rs {
		fmt.Fprintf(w, " %7.2f", ms(r.cpu[pHostpush], r.cycles)-floors[i])
	}
	fmt.Fprintf(w, " %8.2f\n", ms(p.cpu[pHostpush], p.cycles)-fl)

	ratioRow := func(name string, per []float64, all, target float64) {
		fmt.Fprintf(w, "%-34s", name)
		for _, v := range per {
			fmt.Fprintf(w, " %6.2fx", v)
		}
		fmt.Fprintf(w, " %7.2fx  target <= %.2fx: %s\n", all, target, verdict(all <= target))
	}
	per := func(f func(r round, i int) float64) []float64 {
		out := make([]float64, len(rs))
		for i, r := range rs {
			out[i] = f(r, i)
		}
		return out
	}
	ratioRow("hostpush / node_exporter", per(func(r round, _ int) float64 { return ratio(r.cpu[pHostpush], r.cpu[pNodeExporter]) }),
		ratio(p.cpu[pHostpush], p.cpu[pNodeExporter]), targetAgentRatio[size])
	ratioRow("hostpush / collector floor", per(func(r round, i int) float64 { return ms(r.cpu[pHostpush], r.cycles) / floors[i] }),
		ms(p.cpu[pHostpush], p.cycles)/fl, targetFloorRatio)
	ratioRow("hostpush+gw / replaced", per(func(r round, _ int) float64 { return ratio(hostpushTotal(r), replaced(r)) }),
		ratio(hostpushTotal(p), replaced(p)), targetTotalRatio)
	fmt.Fprintf(w, "floor's heaviest collectors (ms, last round): %s\n", topText(runs[len(runs)-1].floor, 6))
	writeMemory(w, runs)
	last := runs[len(runs)-1].side
	fmt.Fprintf(w, "series in the group: replaced %d, hostpush %d; collectors reporting: replaced %d, hostpush %d%s\n",
		last.groupA.Series, last.groupB.Series, len(last.groupA.Collectors), len(last.groupB.Collectors), sameSet(last.groupA.Collectors, last.groupB.Collectors))
	fmt.Fprintf(w, "  failing here (node_scrape_collector_success 0): replaced [%s], hostpush [%s]\n",
		strings.Join(last.groupA.Failed, " "), strings.Join(last.groupB.Failed, " "))
	fmt.Fprintf(w, "  families only in hostpush's group: [%s]; only in the replaced group: [%s]\n",
		strings.Join(onlyIn(last.groupB.Families, last.groupA.Families), " "), strings.Join(foldGo(onlyIn(last.groupA.Families, last.groupB.Families)), " "))
	misses := 0
	for _, r := range runs {
		misses += r.side.deadlineMisses
	}
	fmt.Fprintf(w, "hostpush: pushes ok %.0f, failed %.0f, ticks skipped %.0f (last round), collector deadline misses logged %d; script cycles that failed: %d\n",
		last.groupB.PushesOK, last.groupB.PushesFailed, last.groupB.TicksSkipped, misses, p.failed)
}

func topText(f floor, n int) string {
	var parts []string
	for _, name := range f.top(n) {
		parts = append(parts, fmt.Sprintf("%s %.2f", name, f.perCollector[name]))
	}
	return strings.Join(parts, ", ")
}

// peakRSS is the highest VmHWM of a process over the rounds.
func peakRSS(runs []sizeRun, i int) int64 {
	var m int64
	for _, r := range runs {
		m = max(m, r.side.mem[i].PeakRSS)
	}
	return m
}

func writeMemory(w io.Writer, runs []sizeRun) {
	hp, ne := peakRSS(runs, pHostpush), peakRSS(runs, pNodeExporter)
	fmt.Fprintf(w, "peak RSS (VmHWM, highest round) MiB: hostpush %.1f, node_exporter %.1f; ratio %.2fx, target <= 1.00x: %s\n",
		mib(hp), mib(ne), float64(hp)/float64(ne), verdict(hp <= ne))
	last := runs[len(runs)-1].side.mem
	fmt.Fprintf(w, "  RSS at end of the last round, anon + file MiB: hostpush %.1f + %.1f, node_exporter %.1f + %.1f; peak RSS pushgateway A %.1f, B %.1f\n",
		mib(last[pHostpush].RSSAnon), mib(last[pHostpush].RSSFile), mib(last[pNodeExporter].RSSAnon), mib(last[pNodeExporter].RSSFile),
		mib(last[pGatewayA].PeakRSS), mib(last[pGatewayB].PeakRSS))
}

// writeSummary prints one line per size with the pooled figures and the
// verdicts.
func writeSummary(w io.Writer, c *Config, results map[string][]sizeRun) {
	fmt.Fprintf(w, "== summary (all rounds pooled; floor averaged over rounds)\n")
	fmt.Fprintf(w, "%-7s %15s %9s %9s %16s %9s %15s %17s %19s\n", "size", "host procs/thr", "node_exp", "hostpush", "hp/ne (target)", "floor", "hp/floor (1.3)", "hp+gw/repl (0.45)", "peak RSS hp/ne MiB")
	for _, size := range c.Sizes {
		runs := results[size]
		p := pooled(windows(runs))
		fl := 0.0
		for _, r := range runs {
			fl += r.floor.total() / float64(len(runs))
		}
		hpMs, neMs := ms(p.cpu[pHostpush], p.cycles), ms(p.cpu[pNodeExporter], p.cycles)
		agent := ratio(p.cpu[pHostpush], p.cpu[pNodeExporter])
		total := ratio(hostpushTotal(p), replaced(p))
		hp, ne := peakRSS(runs, pHostpush), peakRSS(runs, pNodeExporter)
		hc := runs[len(runs)-1].host
		fmt.Fprintf(w, "%-7s %15s %9.2f %9.2f %16s %9.2f %15s %17s %19s\n", size, fmt.Sprintf("%d/%d", hc.procs, hc.threads), neMs, hpMs,
			fmt.Sprintf("%.2fx (%.1f) %s", agent, targetAgentRatio[size], mark(agent <= targetAgentRatio[size])),
			fl, fmt.Sprintf("%.2fx %s", hpMs/fl, mark(hpMs/fl <= targetFloorRatio)),
			fmt.Sprintf("%.2fx %s", total, mark(total <= targetTotalRatio)),
			fmt.Sprintf("%.1f/%.1f %s", mib(hp), mib(ne), mark(hp <= ne)))
	}
}

func mark(ok bool) string {
	if ok {
		return "ok"
	}
	return "MISS"
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

// foldGo replaces the go_* names (node_exporter's Go collector, which
// hostpush leaves out on purpose) by their count.
func foldGo(names []string) []string {
	var out []string
	n := 0
	for _, x := range names {
		if strings.HasPrefix(x, "go_") {
			n++
			continue
		}
		out = append(out, x)
	}
	if n > 0 {
		out = append([]string{fmt.Sprintf("go_* (%d families)", n)}, out...)
	}
	return out
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
