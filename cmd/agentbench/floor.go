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
// hostpush around them: each collector run alone, in a loop, in a process
// of its own with GOMAXPROCS=1, CPU per run summed over the collectors.
// Whoever embeds these collectors pays at least that; what hostpush spends
// per cycle above it is its own overhead. It is measured by this package's
// BenchmarkCollector, compiled once per bench run and run at each host size
// after both agents have stopped, while the size's load is still up.

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

// measureFloor runs every collector iters times alone and reads the
// benchmark's cpu-ms/op of each.
func measureFloor(ctx context.Context, bin, dir string, iters int, log io.Writer) (floor, error) {
	cmd := exec.CommandContext(ctx, bin, "-test.run", "^$", "-test.bench", "^BenchmarkCollector/",
		"-test.cpu", "1", "-test.benchtime", fmt.Sprintf("%dx", iters))
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

// parseFloor reads lines such as
//
//	BenchmarkCollector/processes  	      20	   3936412 ns/op	  3.936 cpu-ms/op
func parseFloor(r io.Reader) (floor, error) {
	f := floor{perCollector: map[string]float64{}}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 4 || !strings.HasPrefix(fields[0], "BenchmarkCollector/") {
			continue
		}
		name := strings.TrimPrefix(fields[0], "BenchmarkCollector/")
		if i := strings.LastIndexByte(name, '-'); i > 0 { // a -cpu suffix
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i]
			}
		}
		i := slices.Index(fields, "cpu-ms/op")
		if i < 1 {
			return floor{}, fmt.Errorf("%q: no cpu-ms/op", sc.Text())
		}
		v, err := strconv.ParseFloat(fields[i-1], 64)
		if err != nil || v < 0 {
			return floor{}, fmt.Errorf("%q: cpu-ms/op %q is not a number", sc.Text(), fields[i-1])
		}
		f.perCollector[name] = v
	}
	if err := sc.Err(); err != nil {
		return floor{}, err
	}
	if len(f.perCollector) == 0 {
		return floor{}, fmt.Errorf("no BenchmarkCollector results")
	}
	return f, nil
}

// floorDuration is the floor's total per cycle as a duration.
func (f floor) duration() time.Duration {
	return time.Duration(f.total() * float64(time.Millisecond))
}
