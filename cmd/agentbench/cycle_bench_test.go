package main

// Benchmarks of one hostpush cycle in-process, to see where its CPU and
// allocations go: the node_exporter collectors each alone (the floor),
// the registry gather, the protobuf encoding, and the whole cycle
// (gather, encode, PUT) against a real Pushgateway through agent.Loop and
// the pushgateway sender, as bin/hostpush runs it. Run with -cpu 1, as
// hostpush runs with GOMAXPROCS=1:
//
//	go test ./cmd/agentbench -run '^$' -bench . -cpu 1 -benchmem -cpuprofile cpu.prof

import (
	"bytes"
	"context"
	"flag"
	"log/slog"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/common/expfmt"

	"github.com/hostpush/hostpush/agent"
	"github.com/hostpush/hostpush/agent/pushgateway"
	"github.com/hostpush/hostpush/collectors/node"
	"github.com/hostpush/hostpush/internal/batch"
	"github.com/hostpush/hostpush/internal/procs"
)

var (
	setupOnce sync.Once
	setupErr  error
	benchReg  *prometheus.Registry
	benchNode *node.Collector
)

// setup builds hostpush's registry with its default collectors once per
// test binary: node_exporter's flags live on kingpin's global command line
// and can be parsed only once.
func setup(b *testing.B) *prometheus.Registry {
	b.Helper()
	setupOnce.Do(func() {
		if _, setupErr = kingpin.CommandLine.Parse(node.WithExtras(nil)); setupErr != nil {
			return
		}
		logger := slog.New(slog.DiscardHandler)
		nc, err := node.New(logger, 2*time.Second, nil)
		if err != nil {
			setupErr = err
			return
		}
		benchReg = prometheus.NewRegistry()
		benchReg.MustRegister(nc, collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
		agent.NewMetrics(benchReg)
		benchNode = nc
	})
	if setupErr != nil {
		b.Fatal(setupErr)
	}
	return benchReg
}

// cpuMeter reports the process's CPU time (user + system, all threads) per
// iteration: the benchmarks' ns/op is wall time, which on a loaded machine
// and with collectors waiting on the kernel says little about CPU.
func cpuMeter(b *testing.B) func() {
	b.Helper()
	start := processCPU(b)
	return func() {
		b.ReportMetric(float64(processCPU(b)-start)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
	}
}

func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkCollector runs each collector hostpush runs alone: their sum
// is the floor of a cycle, whoever embeds them. "process" is
// client_golang's process collector, which node_exporter runs too.
func BenchmarkCollector(b *testing.B) {
	setup(b)
	run := func(name string, c interface {
		Collect(chan<- prometheus.Metric)
	}) {
		b.Run(name, func(b *testing.B) {
			defer cpuMeter(b)()
			for b.Loop() {
				ch := make(chan prometheus.Metric, 64)
				done := make(chan struct{})
				go func() {
					for range ch {
					}
					close(done)
				}()
				c.Collect(ch)
				close(ch)
				<-done
			}
		})
	}
	for _, n := range benchNode.Enabled() {
		run(n, updaterCollector{benchNode.Updater(n)})
	}
	run("process", collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
}

// floorPace is the period of BenchmarkFloor: 0 runs the rounds back to
// back; the bench's period (1s) runs them as a pushing agent does, with
// caches gone cold between rounds.
var floorPace = flag.Duration("floor.pace", 0, "BenchmarkFloor: start a round of all collectors every this often")

// BenchmarkFloor is the collector floor as an agent meets it: each op is
// one round of every collector, run alone one after another, rounds paced
// by -floor.pace. It reports each collector's CPU per round
// (<name>-cpu-ms/op), the CPU the process spent outside them
// (runtime-cpu-ms/op: collecting the collectors' garbage, mostly, which
// any embedder pays too) and their sum, the whole process's CPU per round
// (cpu-ms/op).
func BenchmarkFloor(b *testing.B) {
	setup(b)
	type entry struct {
		name string
		c    interface {
			Collect(chan<- prometheus.Metric)
		}
	}
	var all []entry
	for _, n := range benchNode.Enabled() {
		all = append(all, entry{n, updaterCollector{benchNode.Updater(n)}})
	}
	all = append(all, entry{"process", collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})})
	spent := make([]time.Duration, len(all))
	round := func(measure bool) {
		for i, e := range all {
			start := processCPU(b)
			ch := make(chan prometheus.Metric, 64)
			done := make(chan struct{})
			go func() {
				for range ch {
				}
				close(done)
			}()
			e.c.Collect(ch)
			close(ch)
			<-done
			if measure {
				spent[i] += processCPU(b) - start
			}
		}
	}
	// One round unmeasured, as an agent's first gather is: the native
	// collectors open the files they keep, others fill caches.
	round(false)
	next := time.Now()
	whole := processCPU(b)
	for b.Loop() {
		if *floorPace > 0 {
			time.Sleep(time.Until(next))
			next = next.Add(*floorPace)
		}
		round(true)
	}
	whole = processCPU(b) - whole
	perOp := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) / float64(b.N) }
	var collectors time.Duration
	for i, e := range all {
		collectors += spent[i]
		b.ReportMetric(perOp(spent[i]), e.name+"-cpu-ms/op")
	}
	b.ReportMetric(perOp(max(whole-collectors, 0)), "runtime-cpu-ms/op")
	b.ReportMetric(perOp(max(whole, collectors)), "cpu-ms/op")
}

// updaterCollector runs a node_exporter collector's Update as Collect,
// ignoring its error as a failing collector's metrics are still sent.
type updaterCollector struct{ u node.Updater }

func (c updaterCollector) Collect(ch chan<- prometheus.Metric) { _ = c.u.Update(ch) }

// BenchmarkGather is the registry's Gather: all collectors concurrently,
// then client_golang turning the metrics into sorted families.
func BenchmarkGather(b *testing.B) {
	reg := setup(b)
	defer cpuMeter(b)()
	for b.Loop() {
		if _, err := reg.Gather(); err != nil {
			b.Logf("gather: %v", err)
		}
	}
}

// BenchmarkGatherMerged is the gather as hostpush did it before it
// skipped the merge when no remote_write output is configured:
// prometheus.Gatherers over the registry and an empty set of writers,
// which checks and sorts every metric a second time.
func BenchmarkGatherMerged(b *testing.B) {
	reg := setup(b)
	g := prometheus.Gatherers{reg, prometheus.Gatherers{}}
	defer cpuMeter(b)()
	for b.Loop() {
		if _, err := g.Gather(); err != nil {
			b.Logf("gather: %v", err)
		}
	}
}

// BenchmarkEncode is the protobuf encoding of one gather, as the
// pushgateway sender does it (protowire, pushgateway.AppendDelimited).
func BenchmarkEncode(b *testing.B) {
	reg := setup(b)
	fams, _ := reg.Gather()
	var buf []byte
	defer cpuMeter(b)()
	for b.Loop() {
		buf = buf[:0]
		for _, f := range fams {
			buf = pushgateway.AppendDelimited(buf, f)
		}
	}
	b.ReportMetric(float64(len(buf)), "bytes/push")
}

// BenchmarkEncodeExpfmt is the encoding the sender used before: expfmt's
// delimited encoder, proto.Marshal by reflection. The bytes are the same.
func BenchmarkEncodeExpfmt(b *testing.B) {
	reg := setup(b)
	fams, _ := reg.Gather()
	var buf bytes.Buffer
	defer cpuMeter(b)()
	for b.Loop() {
		buf.Reset()
		enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeProtoDelim))
		for _, f := range fams {
			if err := enc.Encode(f); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(buf.Len()), "bytes/push")
}

// BenchmarkCycle is one whole cycle of bin/hostpush: agent.Loop gathers,
// the pushgateway sender encodes and PUTs to a real Pushgateway.
func BenchmarkCycle(b *testing.B) {
	reg := setup(b)
	addr, err := procs.FreeAddr()
	if err != nil {
		b.Fatal(err)
	}
	gw, err := procs.StartPushgateway(context.Background(), addr, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = gw.Stop(5 * time.Second) })
	cfg := pushgateway.DefaultConfig()
	cfg.URL = "http://" + addr
	pusher, err := pushgateway.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	loop := agent.New(agent.Config{
		Settings: agent.Settings{
			Interval: 5 * time.Second, Timeout: 2 * time.Second, Job: "host-stats",
			Grouping: []batch.Label{{Name: "instance", Value: "bench"}},
			Senders:  []batch.Sender{pusher},
		},
		Host: reg, Logger: slog.New(slog.DiscardHandler),
	})
	ctx := context.Background()
	defer cpuMeter(b)()
	for b.Loop() {
		if err := loop.Once(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
