// Command agentbench measures what hostpush costs against the setup it
// replaces: node_exporter scraped by a curl pipeline that a timer fires
// every cycle and POSTs to a Pushgateway. Both run side by side, each
// against its own Debian Pushgateway on a loopback port, with the same
// collectors and the same cycle period, at three host sizes (as it is,
// +500 processes / 2,500 threads, +2,000 / 10,000, added by
// internal/hostload and gone when each size ends). It prints CPU per cycle
// and peak RSS for each process, the collector floor (every collector run
// alone, summed) with hostpush's overhead above it, and the ratios the
// product targets. `make bench-agent` runs it.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/hostpush/hostpush/internal/cli"
	"github.com/hostpush/hostpush/internal/hostload"
)

func main() {
	hostload.MaybeChild() // a copy started as load never returns from here
	maybeHolder()         // nor one started to hold a size's load
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	code := cli.Exit("agentbench", run(ctx, os.Args[1:], os.Stdout, os.Stderr), os.Stderr)
	stop()
	os.Exit(code)
}
