// Command imageserver serves imgix-style image URLs such as
// /assets/images/gophers.jpg?fit=crop&w=1024&h=1024&crop=center&blur=4,
// transformed with libvips, with a result cache and admission control.
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
