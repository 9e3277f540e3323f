// Command devstack runs the whole system on one host for `make run`: a
// loopback Pushgateway and Prometheus (Debian binaries), bin/imageserver
// with a sample photo, and bin/hostpush in the foreground pushing the host's
// and the image server's metrics. Ctrl-C stops everything in reverse order.
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
	code := cli.Exit("devstack", run(ctx, os.Args[1:], os.Stdout, os.Stderr), os.Stderr)
	stop()
	os.Exit(code)
}
