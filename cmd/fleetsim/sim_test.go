package main

import (
	"bytes"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hostpush/hostpush/internal/cli"
)

// TestSimulateSmallFleet runs a tiny fleet against the real Pushgateway
// and VictoriaMetrics to keep the bench tool working; figures come from
// make bench-fleet, not from here.
func TestSimulateSmallFleet(t *testing.T) {
	text, err := os.ReadFile("../../agent/remotewrite/testdata/gather.prom")
	if err != nil {
		t.Fatal(err)
	}
	g, err := parseGather(text)
	if err != nil {
		t.Fatal(err)
	}
	o := &options{duration: 1500 * time.Millisecond, interval: 500 * time.Millisecond, warmup: 500 * time.Millisecond, timeout: 450 * time.Millisecond}
	for _, recv := range []string{"pushgateway", "victoria-metrics"} {
		r, err := simulate(t.Context(), o, g, recv, 3)
		if err != nil {
			t.Fatalf("%s: %v", recv, err)
		}
		if r.pushes < 6 || r.samples == 0 || r.peakRSS < 1<<20 || r.cpu <= 0 || len(r.lat) != r.pushes {
			t.Errorf("%s: implausible result %+v", recv, r.summary())
		}
		if recv == "victoria-metrics" && r.stored != 3*g.series {
			t.Errorf("VictoriaMetrics stores %d series, want 3 hosts x %d", r.stored, g.series)
		}
		if recv == "pushgateway" && r.scrapeSize < 3*len(g.pgBody)/2 {
			t.Errorf("Pushgateway /metrics is %d bytes, too small for 3 groups", r.scrapeSize)
		}
		var out bytes.Buffer
		printTable(&out, []result{r})
		if !strings.Contains(out.String(), "| "+recv+" | 3 |") {
			t.Errorf("table lacks the %s row:\n%s", recv, out.String())
		}
	}
}

func TestParseArgs(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--hosts=10,x"}, `--hosts: "x" is not a fleet size`},
		{[]string{"--hosts.pushgateway=0"}, `--hosts.pushgateway: "0" is not a fleet size`},
		{[]string{"--receivers=mimir"}, `--receivers: "mimir" unknown`},
		{[]string{"--push.timeout=6s"}, "--push.timeout 6s: allowed"},
		{[]string{"--duration=1s"}, "allowed: interval at least 100ms, duration at least one interval"},
	} {
		_, err := parseArgs(tc.args, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) || cli.Exit("fleetsim", err, io.Discard) != cli.ExitConfig {
			t.Errorf("parseArgs(%v) = %v, want a usage error containing %q", tc.args, err, tc.want)
		}
	}
	// --help prints the usage and runs nothing
	var out strings.Builder
	if o, err := parseArgs([]string{"--help"}, &out, io.Discard); o != nil || err != nil || !strings.Contains(out.String(), "--hosts") {
		t.Errorf("parseArgs(--help) = %v, %v with usage %q; want nil, nil and the usage", o, err, out.String())
	}
	o, err := parseArgs([]string{"--hosts=10,100", "--hosts.pushgateway=5"}, io.Discard, io.Discard)
	if err != nil || len(o.hosts["pushgateway"]) != 1 || len(o.hosts["victoria-metrics"]) != 2 || o.timeout != 2500*time.Millisecond {
		t.Errorf("parseArgs: %+v, %v", o, err)
	}
}
