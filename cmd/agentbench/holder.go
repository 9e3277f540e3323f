package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/hostpush/hostpush/internal/hostload"
)

// The load of a size runs in a child process of this binary, a load
// holder, not in the bench itself, so that whatever the load leaves in
// the process that started it (threads the Go runtime keeps, memory)
// leaves with the holder and no later size counts it as the host's own.

// envHolder selects the holder mode and names the size and lifetime.
const envHolder = "HOSTPUSH_AGENTBENCH_LOAD"

// holderReady is the line a holder writes once its load is up.
const holderReady = "ready"

// maybeHolder runs the holder and exits when this process was started as
// one; otherwise it returns at once.
func maybeHolder() {
	v, ok := os.LookupEnv(envHolder)
	if !ok {
		return
	}
	if err := runHolder(v, os.Stdin, os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "agentbench load holder: %v\n", oneLine(err))
		os.Exit(1)
	}
	os.Exit(0)
}

// runHolder starts the load named by v ("size lifetime"), says ready on
// out and keeps the load until in reaches end of file (the bench closed it
// or died) or a signal comes.
func runHolder(v string, in io.Reader, out io.Writer) error {
	size, life, ok := strings.Cut(v, " ")
	spec, err := hostload.ParseSize(size)
	if err != nil || !ok {
		return fmt.Errorf("%s=%q: want \"<size> <lifetime>\" (%v)", envHolder, v, err)
	}
	if spec.Lifetime, err = time.ParseDuration(life); err != nil {
		return fmt.Errorf("%s=%q: lifetime: %w", envHolder, v, err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	load, err := hostload.Start(ctx, spec)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, holderReady)
	eof := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, in)
		close(eof)
	}()
	select {
	case <-eof:
	case <-ctx.Done():
	}
	return load.Stop()
}

// startHolder starts a holder for size and returns once its load is up.
// stop ends the load and waits for the holder; it must be called.
func startHolder(ctx context.Context, size string, lifetime time.Duration, log io.Writer) (stop func() error, err error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("finding this binary for the load holder: %w", err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s %s", envHolder, size, lifetime))
	cmd.Stderr = log
	// Its own process group, so a Ctrl-C reaches only the bench, which
	// then stops it; Pdeathsig and the stdin pipe end it if the bench dies.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the load holder: %w", err)
	}
	exited := make(chan error, 1)
	ready := make(chan bool, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		ready <- strings.TrimSpace(line) == holderReady
		_, _ = io.Copy(io.Discard, stdout)
		exited <- cmd.Wait()
	}()
	stop = func() error {
		stdin.Close()
		select {
		case err := <-exited:
			if err != nil {
				return fmt.Errorf("the load holder: %w", err)
			}
			return nil
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
			return errors.New("the load holder did not stop within 30s; killed")
		}
	}
	select {
	case ok := <-ready:
		if !ok {
			return nil, errors.Join(errors.New("the load holder failed to start the load (its error is above)"), stop())
		}
		return stop, nil
	case <-ctx.Done():
		return nil, errors.Join(ctx.Err(), stop())
	}
}

func oneLine(err error) string { return strings.ReplaceAll(err.Error(), "\n", "; ") }
