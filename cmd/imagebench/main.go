// Command imagebench load-tests the image server the way the seed
// experiment did (vegeta at a constant rate on one URL), optionally starting
// bin/imageserver itself with a sample photo, and prints the latency
// histogram, quantiles, success ratio and the server's CPU and peak RSS. It
// leaves plots of latency over time, the histogram, and the server's CPU and
// memory over the run in an output folder. With --scenarios it runs the
// load runs of the imageserver issues instead (seed, uncached, sustained,
// overload, avif-burst), each against a freshly started server, and reports
// each one's CPU per request, peak RSS and histogram against its target.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/hostpush/hostpush/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	code := cli.Exit("imagebench", run(ctx, os.Args[1:], os.Stdout, os.Stderr), os.Stderr)
	stop()
	os.Exit(code)
}
