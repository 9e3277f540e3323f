// Command fleetsim simulates a fleet of hosts pushing a real hostpush gather
// every 5 s, each with its own instance, against a real Pushgateway (PUT)
// and a real VictoriaMetrics (remote_write), and prints push latency,
// errors and the receiver's CPU and peak RSS per fleet size. It shows
// where one Pushgateway stops keeping up. Loopback only.
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
	code := cli.Exit("fleetsim", run(ctx, os.Args[1:], os.Stdout, os.Stderr), os.Stderr)
	stop()
	os.Exit(code)
}
