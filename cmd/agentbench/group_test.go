package main

import (
	"io"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

const gatewayExposition = `# TYPE node_load1 gauge
node_load1{instance="",job="host-stats"} 0.5
node_load1{instance="",job="other"} 9
# TYPE node_scrape_collector_success gauge
node_scrape_collector_success{collector="cpu",instance="h",job="host-stats"} 1
node_scrape_collector_success{collector="zfs",instance="h",job="host-stats"} 0
# TYPE hostpush_pushes_total counter
hostpush_pushes_total{instance="h",job="host-stats",result="success",sender="pg"} 7
hostpush_pushes_total{instance="h",job="host-stats",result="failure",sender="pg"} 2
# TYPE hostpush_ticks_skipped_total counter
hostpush_ticks_skipped_total{instance="h",job="host-stats"} 1
# TYPE hostpush_push_duration_seconds histogram
hostpush_push_duration_seconds_bucket{instance="h",job="host-stats",sender="pg",le="0.1"} 3
hostpush_push_duration_seconds_bucket{instance="h",job="host-stats",sender="pg",le="+Inf"} 3
hostpush_push_duration_seconds_sum{instance="h",job="host-stats",sender="pg"} 0.01
hostpush_push_duration_seconds_count{instance="h",job="host-stats",sender="pg"} 3
# TYPE push_time_seconds gauge
push_time_seconds{instance="h",job="host-stats"} 1.7645e+09
# TYPE pushgateway_build_info gauge
pushgateway_build_info{version="1.5.1"} 1
`

func TestParseGroup(t *testing.T) {
	g, err := parseGroup(strings.NewReader(gatewayExposition), "host-stats")
	if err != nil {
		t.Fatal(err)
	}
	// node_load1 1 + success 2 + pushes 2 + skipped 1 + histogram (2 buckets + sum + count) 4.
	if g.Series != 10 {
		t.Errorf("Series = %d, want 10", g.Series)
	}
	if !slices.Equal(g.Collectors, []string{"cpu", "zfs"}) || !slices.Equal(g.Failed, []string{"zfs"}) {
		t.Errorf("Collectors = %v, Failed = %v; want [cpu zfs], [zfs]", g.Collectors, g.Failed)
	}
	if g.PushesOK != 7 || g.PushesFailed != 2 || g.TicksSkipped != 1 {
		t.Errorf("pushes ok %v failed %v skipped %v, want 7 2 1", g.PushesOK, g.PushesFailed, g.TicksSkipped)
	}
	if g.PushTime != 1.7645e9 {
		t.Errorf("PushTime = %v, want 1.7645e9", g.PushTime)
	}
	if g.Families["push_time_seconds"] || g.Families["pushgateway_build_info"] || !g.Families["node_load1"] {
		t.Errorf("Families = %v: want the group's own, without the gateway's", g.Families)
	}
}

// parseGroup parses a text exposition and summarises the families of job,
// as fetchGroup does with what procs.Scrape reads from a gateway.
func parseGroup(r io.Reader, job string) (group, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(r)
	if err != nil {
		return group{}, err
	}
	return summarise(fams, job), nil
}

func FuzzParseGroup(f *testing.F) {
	f.Add(gatewayExposition)
	f.Fuzz(func(t *testing.T, s string) {
		g, err := parseGroup(strings.NewReader(s), "host-stats")
		if err == nil && g.Series < 0 {
			t.Errorf("negative series count")
		}
	})
}

func TestValidate(t *testing.T) {
	ok := Config{Period: time.Second, Cycles: 30, Warmup: 3, Rounds: 2, Sizes: []string{"host", "medium", "large"}, Profile: "default", FloorIters: 10}
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid config rejected: %v", err)
	}
	tests := []struct {
		name   string
		modify func(*Config)
		want   string
	}{
		{"period", func(c *Config) { c.Period = time.Millisecond }, "--period=1ms"},
		{"cycles", func(c *Config) { c.Cycles = 1 }, "--cycles=1"},
		{"warmup", func(c *Config) { c.Warmup = 0 }, "--warmup=0"},
		{"rounds", func(c *Config) { c.Rounds = 0 }, "--rounds=0"},
		{"floor runs", func(c *Config) { c.FloorIters = 0 }, "--floor.runs=0"},
		{"floor longer than the window", func(c *Config) { c.FloorIters = 29 }, "--floor.runs=29: want 1 to --cycles minus 2 (28)"},
		{"profile", func(c *Config) { c.Profile = "fast" }, `--profile="fast": allowed: default, slow`},
		{"size", func(c *Config) { c.Sizes = []string{"huge"} }, `--size="huge": allowed: host, medium, large`},
		{"size twice", func(c *Config) { c.Sizes = []string{"host", "host"} }, `--size="host" given twice`},
		{"no size", func(c *Config) { c.Sizes = nil }, "--size: want at least one"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.modify(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("err = %v, want one line containing %q", err, tc.want)
			}
		})
	}
	bad := Config{Period: time.Millisecond, Cycles: 1, Warmup: 3, Rounds: 2, Sizes: []string{"x"}, Profile: "default", FloorIters: 10}
	if err := bad.Validate(); err == nil || strings.Count(err.Error(), "; ") != 3 || strings.Contains(err.Error(), "\n") {
		t.Errorf("four bad fields: err = %v, want them on one line", err)
	}
}

func TestCPUBetween(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name          string
		before, after cpuReading
		want          time.Duration
	}{
		{"threads' nanoseconds", cpuReading{100 * ms, 95 * ms}, cpuReading{110 * ms, 107 * ms}, 12 * ms},
		{"a thread exited: ticks", cpuReading{100 * ms, 95 * ms}, cpuReading{200 * ms, 20 * ms}, 100 * ms},
		{"more than the ticks by rounding", cpuReading{100 * ms, 104 * ms}, cpuReading{100 * ms, 109 * ms}, 5 * ms},
	}
	for _, tc := range tests {
		if got := cpuBetween(tc.before, tc.after); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestParseFloor(t *testing.T) {
	out := "goos: linux\nBenchmarkFloor \t      10\t1002 ns/op\t 0.2538 cpu-cpu-ms/op\t 4.865 processes-cpu-ms/op\t 0.3538 process-cpu-ms/op\t 5.473 cpu-ms/op\nPASS\n"
	f, err := parseFloor(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.perCollector) != 3 || f.perCollector["processes"] != 4.865 || f.perCollector["cpu"] != 0.2538 || math.Abs(f.total()-5.4726) > 1e-9 {
		t.Errorf("got %v, total %v", f.perCollector, f.total())
	}
	if top := f.top(2); !slices.Equal(top, []string{"processes", "process"}) {
		t.Errorf("top 2 = %v", top)
	}
	for _, bad := range []string{
		"PASS\n",
		"BenchmarkFloor 10 100 ns/op x cpu-cpu-ms/op 1 cpu-ms/op\n",
		"BenchmarkFloor 10 100 ns/op 1 cpu-cpu-ms/op\n",             // no total
		"BenchmarkFloor 10 100 ns/op 1 cpu-cpu-ms/op 3 cpu-ms/op\n", // sum disagrees
	} {
		if _, err := parseFloor(strings.NewReader(bad)); err == nil {
			t.Errorf("no error for %q", bad)
		}
	}
}

func TestHostpushYAML(t *testing.T) {
	got := hostpushYAML(map[string]time.Duration{"processes": 3 * time.Second, "filesystem": 6 * time.Second})
	want := "collectors:\n  intervals:\n    filesystem: 6s\n    processes: 3s\n"
	if !strings.HasSuffix(got, want) || !strings.Contains(got, "\nscrape: []\n") {
		t.Errorf("got\n%s\nwant scrape: [] and to end with\n%s", got, want)
	}
	if got := hostpushYAML(nil); strings.Contains(got, "collectors:") || !strings.Contains(got, "scrape: []") {
		t.Errorf("without intervals got\n%s", got)
	}
}

func TestRunHolderArguments(t *testing.T) {
	for _, bad := range []string{"huge 1m", "medium", "medium soon"} {
		if err := runHolder(bad, strings.NewReader(""), io.Discard); err == nil || !strings.Contains(err.Error(), envHolder) {
			t.Errorf("%q: err = %v, want one naming %s", bad, err, envHolder)
		}
	}
	// The host size adds nothing: the holder says ready and, its stdin
	// at end of file, stops.
	var out strings.Builder
	if err := runHolder("host 1m", strings.NewReader(""), &out); err != nil || strings.TrimSpace(out.String()) != holderReady {
		t.Errorf("host size: err %v, said %q", err, out.String())
	}
}
