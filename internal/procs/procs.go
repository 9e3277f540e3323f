// Package procs starts and stops the real servers that the development
// stack, the benchmark tools and the integration tests run beside hostpush:
// the Debian Pushgateway and Prometheus, the reference Pushgateway 1.11 and
// Prometheus 3 (fetched or built once and cached by version),
// bin/imageserver with the sample photo, and bin/hostpush. It owns each
// child process from start to a bounded stop, and reads what a process has
// used (CPU, RSS, peak RSS) and the machine's load through procfs, for
// every tool that measures.
package procs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Proc is one running child process. Stop ends it; Done is closed once it
// has exited, whoever ended it.
type Proc struct {
	Name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// Start runs path with args in its own process group, so a Ctrl-C in the
// terminal reaches only the parent, which then stops children in order.
// Output goes to out (both stdout and stderr); nil discards it.
func Start(name, path string, args []string, out io.Writer) (*Proc, error) {
	cmd := exec.Command(path, args...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s (%s): %w", name, path, err)
	}
	p := &Proc{Name: name, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// Pid is the process id of the child.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Done is closed when the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Err is the exit status once Done is closed (nil for exit code 0).
func (p *Proc) Err() error {
	<-p.done
	return p.err
}

// Stop sends SIGTERM and waits up to timeout for the process to exit, then
// kills it. It returns the exit error, which for a process ended by
// SIGTERM is "signal: terminated"; callers that only need it gone can
// ignore it. Stop may be called more than once.
func (p *Proc) Stop(timeout time.Duration) error {
	select {
	case <-p.done:
		return p.err
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return p.err
	case <-time.After(timeout):
	}
	_ = p.cmd.Process.Kill()
	<-p.done
	return fmt.Errorf("%s did not stop within %s after SIGTERM; killed", p.Name, timeout)
}

// WaitHTTP polls url until it answers 200, the process exits, or ctx ends.
// p may be nil when the server was not started by us.
func WaitHTTP(ctx context.Context, p *Proc, url string) error {
	client := &http.Client{Timeout: time.Second}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		last = Answers(ctx, client, url)
		if last == nil {
			return nil
		}
		var done <-chan struct{}
		if p != nil {
			done = p.done
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w (last: %v)", url, ctx.Err(), last)
		case <-done:
			return fmt.Errorf("waiting for %s: %s exited: %v", url, p.Name, p.err)
		case <-tick.C:
		}
	}
}

// Answers reports whether url answers a GET with 200.
func Answers(ctx context.Context, client *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %s", url, resp.Status)
	}
	return nil
}

// Scrape GETs url and parses the text exposition it answers: what a test
// or a tool reads from a real server's /metrics. A status other than 200
// is an error with the start of the body.
func Scrape(ctx context.Context, url string) (map[string]*dto.MetricFamily, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return nil, fmt.Errorf("GET %s: %s: %s", url, resp.Status, bytes.TrimSpace(b))
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("GET %s: parsing the exposition: %w", url, err)
	}
	return fams, nil
}

// FreeAddr returns a loopback address with a port that was free a moment
// ago ("127.0.0.1:PORT"). Another process may take it before the caller
// binds it; the window is small enough for tests.
func FreeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("finding a free loopback port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// LookPath finds a server binary, naming the Debian package that provides
// it when it is missing.
func LookPath(bin, pkg string) (string, error) {
	p, err := exec.LookPath(bin)
	if err != nil {
		return "", fmt.Errorf("%s not found in PATH; install the Debian package %s (packaging/install-deps.sh does): %w", bin, pkg, err)
	}
	return p, nil
}

// ErrNotExist is returned by Binary when a repo binary has not been built.
var ErrNotExist = errors.New("not built")

// Binary returns the path of a binary built by `make build` (bin/NAME under
// the module root found from the working directory upwards).
func Binary(name string) (string, error) {
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	p := filepath.Join(root, "bin", name)
	if _, err := os.Stat(p); err != nil {
		return p, fmt.Errorf("%s: %w (run make build)", p, ErrNotExist)
	}
	return p, nil
}

// ModuleRoot is the directory holding go.mod, searched from the working
// directory upwards.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found above the working directory")
		}
		dir = parent
	}
}
