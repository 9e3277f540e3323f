package main

import (
	"slices"
	"strings"
	"testing"
	"time"
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

func TestParseGroupRejectsBadExposition(t *testing.T) {
	if _, err := parseGroup(strings.NewReader("node_load1{ 1\n"), "host-stats"); err == nil {
		t.Fatal("no error for a broken exposition")
	}
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
	ok := Config{Period: time.Second, Cycles: 30, Warmup: 3, Rounds: 3, SlowRounds: 2, Profiles: []string{"default", "slow"}}
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
		{"rounds", func(c *Config) { c.SlowRounds = 0 }, "--slow-rounds=0"},
		{"profile", func(c *Config) { c.Profiles = []string{"fast"} }, `--profile="fast": allowed: default, slow`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.modify(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestIntervalsYAML(t *testing.T) {
	got := intervalsYAML(map[string]time.Duration{"processes": 3 * time.Second, "filesystem": 6 * time.Second})
	want := "collectors:\n  intervals:\n    filesystem: 6s\n    processes: 3s\n"
	if !strings.HasSuffix(got, want) {
		t.Errorf("got\n%s\nwant it to end with\n%s", got, want)
	}
}
