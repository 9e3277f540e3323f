package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The collector floor is what hostpush's collectors cost with nothing of
// hostpush around them: each collector run alone, one after another, in a
// process of its own with GOMAXPROCS=1, a round of all of them every bench
// period (as an agent runs them, caches cold between rounds), CPU per round
// summed over the collectors. Whoever embeds these collectors pays at least
// that; what hostpush spends per cycle above it is its own overhead. It is
// measured by this package's BenchmarkFloor, compiled once per bench run
// and run at each host size during the measured window, beside both agents.

// floorBinary compiles this package's benchmarks into dir.
func floorBinary(ctx context.Context, root, dir string, log io.Writer) (string, error) {
	path := filepath.Join(dir, "collectors.test")
	fmt.Fprintf(log, "agentbench: compiling the collector benchmarks (the floor) into %s\n", path)
	cmd := goCmd(ctx, root, "test", "-c", "-o", path, "./cmd/agentbench")
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("compiling the collector benchmarks: %w", err)
	}
	return path, nil
}

// floor is one measurement of the floor: CPU ms per run of each collector.
type floor struct {
	perCollector map[string]float64
}

func (f floor) total() float64 {
	t := 0.0
	for _, v := range f.perCollector {
		t += v
	}
	return t
}

// top returns the n most expensive collectors, most expensive first.
func (f floor) top(n int) []string {
	names := make([]string, 0, len(f.perCollector))
	for k := range f.perCollector {
		names = append(names, k)
	}
	slices.SortFunc(names, func(a, b string) int {
		switch {
		case f.perCollector[a] > f.perCollector[b]:
			return -1
		case f.perCollector[a] < f.perCollector[b]:
			return 1
		}
		return strings.Compare(a, b)
	})
	return names[:min(n, len(names))]
}

// measureFloor runs rounds rounds of every collector, one per period,
// and reads the benchmark's CPU per round of each collector.
func measureFloor(ctx context.Context, bin, dir string, rounds int, period time.Duration, log io.Writer) (floor, error) {
	cmd := exec.CommandContext(ctx, bin, "-test.run", "^$", "-test.bench", "^BenchmarkFloor$",
		"-test.cpu", "1", "-test.benchtime", fmt.Sprintf("%dx", rounds), "-floor.pace", period.String())
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
	cmd.Stderr = log
	out, err := cmd.Output()
	if err != nil {
		return floor{}, fmt.Errorf("running the collector benchmarks: %w", err)
	}
	f, err := parseFloor(strings.NewReader(string(out)))
	if err != nil {
		return floor{}, fmt.Errorf("reading the collector benchmarks: %w", err)
	}
	return f, nil
}

// parseFloor reads BenchmarkFloor's result line: value and unit pairs,
// "<collector>-cpu-ms/op" for each collector and "cpu-ms/op" for their
// sum, which must agree.
func parseFloor(r io.Reader) (floor, error) {
	f := floor{perCollector: map[string]float64{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	total := -1.0
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 || !strings.HasPrefix(fields[0], "BenchmarkFloor") {
			continue
		}
		for i := 2; i+1 < len(fields); i += 2 {
			v, err := strconv.ParseFloat(fields[i], 64)
			if err != nil || v < 0 {
				return floor{}, fmt.Errorf("%q is not a CPU time (unit %q)", fields[i], fields[i+1])
			}
			switch unit := fields[i+1]; {
			case unit == "cpu-ms/op":
				total = v
			case strings.HasSuffix(unit, "-cpu-ms/op"):
				f.perCollector[strings.TrimSuffix(unit, "-cpu-ms/op")] = v
			}
		}
	}
	if err := sc.Err(); err != nil {
		return floor{}, err
	}
	if len(f.perCollector) == 0 || total < 0 {
		return floor{}, fmt.Errorf("no BenchmarkFloor result with per-collector and total cpu-ms/op")
	}
	if d := f.total() - total; d > 0.01*total+0.01 || d < -0.01*total-0.01 {
		return floor{}, fmt.Errorf("collectors sum to %.3f ms but the total is %.3f ms", f.total(), total)
	}
	return f, nil
}
