// Command hostpush gathers host metrics with node_exporter's collectors and
// pushes them to a Prometheus Pushgateway (or remote_write receivers) on a
// ticker.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
