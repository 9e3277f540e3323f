// Command devstack runs the whole system on one host for `make run`: a
// loopback Pushgateway and Prometheus (Debian binaries), bin/imageserver
// with a sample photo, and bin/hostpush in the foreground pushing the host's
// and the image server's metrics. Ctrl-C stops everything in reverse order.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "devstack:", err)
		stop()
		os.Exit(exitCode(err))
	}
}
