package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/hostpush/hostpush/internal/cli"
	"github.com/hostpush/hostpush/internal/procs"
)

// config holds devstack's flags.
type config struct {
	gateway, prometheus, imageserver string
	interval                         time.Duration
	binDir                           string
	hostpushArgs                     []string
}

// parseFlags returns the flags, or nil after --help. A bad command line
// is a cli.ConfigError (exit code 2).
func parseFlags(args []string, stdout, stderr io.Writer) (*config, error) {
	var c config
	app := kingpin.New("devstack", "Run Pushgateway, Prometheus, imageserver and hostpush together on loopback.")
	app.Flag("gateway.address", "Pushgateway address; reused if one already answers there.").Default("127.0.0.1:9091").StringVar(&c.gateway)
	app.Flag("prometheus.address", "Prometheus address (empty: no Prometheus); reused if one already answers there.").Default("127.0.0.1:9090").StringVar(&c.prometheus)
	app.Flag("imageserver.address", "Image server address (empty: no image server).").Default("127.0.0.1:3002").StringVar(&c.imageserver)
	app.Flag("push.interval", "hostpush push interval (and Prometheus scrape interval).").Default("5s").DurationVar(&c.interval)
	app.Flag("bin.dir", "Directory holding hostpush and imageserver (make build puts them in bin/).").Default("bin").StringVar(&c.binDir)
	app.Arg("hostpush-args", "Extra arguments passed to hostpush (after --).").StringsVar(&c.hostpushArgs)
	if done, err := cli.Parse(app, args, stdout, stderr); done || err != nil {
		return nil, err
	}
	if c.interval < time.Second {
		return nil, cli.ConfigError{Err: fmt.Errorf("--push.interval=%s: must be at least 1s", c.interval)}
	}
	return &c, nil
}

// stack is the set of processes started so far, stopped in reverse order.
type stack struct {
	procs  []*procs.Proc
	stderr io.Writer
}

func (s *stack) add(p *procs.Proc) { s.procs = append(s.procs, p) }

func (s *stack) stop() {
	for i := len(s.procs) - 1; i >= 0; i-- {
		p := s.procs[i]
		fmt.Fprintf(s.stderr, "devstack: stopping %s\n", p.Name)
		err := p.Stop(5 * time.Second)
		var exit interface{ ExitCode() int }
		if err != nil && !(errors.As(err, &exit) && exit.ExitCode() <= 0) {
			// ExitCode is -1 for a process ended by our SIGTERM: that is a clean stop.
			fmt.Fprintf(s.stderr, "devstack: %s: %v\n", p.Name, err)
		}
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c, err := parseFlags(args, stdout, stderr)
	if c == nil {
		return err
	}
	hostpush, err := filepath.Abs(filepath.Join(c.binDir, "hostpush"))
	if err != nil {
		return err
	}
	if _, err := os.Stat(hostpush); err != nil {
		return fmt.Errorf("%s not found: run make build first", hostpush)
	}
	dir, err := os.MkdirTemp("", "hostpush-devstack-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	s := &stack{stderr: stderr}
	defer s.stop()
	var urls []string

	gw, err := s.pushgateway(ctx, c.gateway, dir)
	if err != nil {
		return err
	}
	urls = append(urls, "Pushgateway  "+gw)
	if c.prometheus != "" {
		u, err := s.prom(ctx, c, dir)
		if err != nil {
			return err
		}
		urls = append(urls, "Prometheus   "+u)
	}
	var targets []string
	if c.imageserver != "" {
		u, err := s.imageServer(ctx, c, dir)
		switch {
		case errors.Is(err, procs.ErrNotExist):
			fmt.Fprintf(stderr, "devstack: no image server (%v); hostpush will report it as down\n", err)
		case err != nil:
			return err
		default:
			urls = append(urls, "Image server "+u+"/assets/images/gophers.jpg?fit=crop&w=1024&h=1024&crop=center&blur=4",
				"             "+u+"/metrics")
		}
		targets = append(targets, "http://"+c.imageserver+"/metrics")
	}

	cfgFile, err := writeHostpushConfig(ctx, hostpush, dir, gw, c.interval, targets, stderr)
	if err != nil {
		return err
	}
	hp, err := procs.Start("hostpush", hostpush, append([]string{"--config.file=" + cfgFile}, c.hostpushArgs...), stderr)
	if err != nil {
		return err
	}
	s.add(hp)

	fmt.Fprintf(stdout, "\ndevstack is up (Ctrl-C stops everything). Open:\n")
	for _, u := range urls {
		fmt.Fprintf(stdout, "  %s\n", u)
	}
	fmt.Fprintf(stdout, "  hostpush config: %s\n  Try in Prometheus: node_load1, rate(imageserver_http_requests_total[1m]), hostpush_scrape_success\n\n", cfgFile)

	select {
	case <-ctx.Done():
		fmt.Fprintln(stderr, "devstack: signal received, stopping")
		return nil
	case <-hp.Done():
		return fmt.Errorf("hostpush exited: %v", hp.Err())
	}
}

// pushgateway reuses a gateway already answering at addr or starts one.
func (s *stack) pushgateway(ctx context.Context, addr, dir string) (string, error) {
	url := "http://" + addr
	if answers(ctx, url+"/-/ready") {
		fmt.Fprintf(s.stderr, "devstack: using the Pushgateway already answering at %s\n", url)
		return url, nil
	}
	p, err := procs.StartPushgateway(ctx, addr, logFile(dir, "pushgateway", s.stderr))
	if err != nil {
		return "", err
	}
	s.add(p)
	return url, nil
}

func (s *stack) prom(ctx context.Context, c *config, dir string) (string, error) {
	url := "http://" + c.prometheus
	if answers(ctx, url+"/-/ready") {
		fmt.Fprintf(s.stderr, "devstack: using the Prometheus already answering at %s (make sure it scrapes %s with honor_labels: true)\n", url, c.gateway)
		return url, nil
	}
	cfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfg, []byte(prometheusConfig(c.gateway, c.interval)), 0o644); err != nil {
		return "", err
	}
	p, err := procs.StartPrometheus(ctx, c.prometheus, cfg, filepath.Join(dir, "tsdb"), logFile(dir, "prometheus", s.stderr))
	if err != nil {
		return "", err
	}
	s.add(p)
	return url, nil
}

func (s *stack) imageServer(ctx context.Context, c *config, dir string) (string, error) {
	bin, err := filepath.Abs(filepath.Join(c.binDir, "imageserver"))
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(bin); err != nil {
		return "", fmt.Errorf("%s: %w", bin, procs.ErrNotExist)
	}
	images := filepath.Join(dir, "images")
	if err := os.Mkdir(images, 0o755); err != nil {
		return "", err
	}
	if err := procs.SampleImage(ctx, images, "gophers.jpg"); err != nil {
		return "", err
	}
	p, err := procs.StartImageServer(ctx, bin, c.imageserver, images, nil, logFile(dir, "imageserver", s.stderr))
	if err != nil {
		return "", err
	}
	s.add(p)
	return "http://" + c.imageserver, nil
}

func answers(ctx context.Context, url string) bool {
	return procs.Answers(ctx, &http.Client{Timeout: time.Second}, url) == nil
}

// logFile opens dir/name.log for a server's output and says where it is.
func logFile(dir, name string, stderr io.Writer) io.Writer {
	path := filepath.Join(dir, name+".log")
	f, err := os.Create(path)
	if err != nil {
		return stderr
	}
	fmt.Fprintf(stderr, "devstack: starting %s (log: %s)\n", name, path)
	return f
}

// writeHostpushConfig writes hostpush's config and has hostpush check it.
// A hostpush built before scrape targets were wired in rejects the scrape:
// key; then the stack runs without them rather than not at all.
func writeHostpushConfig(ctx context.Context, bin, dir, gateway string, interval time.Duration, targets []string, stderr io.Writer) (string, error) {
	path := filepath.Join(dir, "hostpush.yml")
	if err := os.WriteFile(path, []byte(hostpushConfig(gateway, interval, targets)), 0o644); err != nil {
		return "", err
	}
	out, err := exec.CommandContext(ctx, bin, "--config.file="+path, "--check-config").CombinedOutput()
	if err == nil {
		return path, nil
	}
	if len(targets) > 0 && strings.Contains(string(out), "scrape") {
		fmt.Fprintf(stderr, "devstack: this hostpush does not take scrape targets yet (%s); running without them\n", strings.TrimSpace(string(out)))
		return writeHostpushConfig(ctx, bin, dir, gateway, interval, nil, stderr)
	}
	return "", fmt.Errorf("hostpush rejected the generated config %s: %s", path, strings.TrimSpace(string(out)))
}

func hostpushConfig(gateway string, interval time.Duration, targets []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "push:\n  url: %s\n  interval: %s\n", gateway, interval)
	if len(targets) > 0 {
		b.WriteString("scrape:\n")
		for i, t := range targets {
			name := "imageserver"
			if i > 0 {
				name = fmt.Sprintf("target%d", i)
			}
			fmt.Fprintf(&b, "  - name: %s\n    url: %s\n", name, t)
		}
	}
	return b.String()
}

func prometheusConfig(gateway string, interval time.Duration) string {
	return fmt.Sprintf(`global:
  scrape_interval: %[2]s
  evaluation_interval: %[2]s
scrape_configs:
  - job_name: pushgateway
    honor_labels: true
    static_configs:
      - targets: [%[1]q]
`, gateway, interval)
}
