package main

import (
	"context"
)

// canceled returns a context that is already done: Close of a writer that
// never ran needs no final try.
func canceled() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}
