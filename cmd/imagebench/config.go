package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/hostpush/hostpush/internal/cli"
)

// SeedPath is the request the seed experiment attacked.
const SeedPath = "/assets/images/gophers.jpg?fit=crop&w=1024&h=1024&crop=center&blur=4"

// config holds imagebench's settings.
type config struct {
	Name        string
	Rate        int
	Duration    time.Duration
	Timeout     time.Duration
	URLs        []string
	URLsFile    string
	CacheBust   bool
	ServerURL   string
	ServerBin   string
	ServerArgs  []string
	ServerPID   int
	OutDir      string
	PlotFormat  string
	NoProgress  bool
	SampleEvery time.Duration
	// Scenarios selects the load runs (see scenarios.go); empty: one
	// run as the other flags say.
	Scenarios     string
	UncachedRate  int
	SustainedRate int
	Out           string
}

// parseFlags returns the settings, or nil after --help. A bad command
// line is a cli.ConfigError (exit code 2).
func parseFlags(args []string, stdout, stderr io.Writer) (*config, error) {
	var c config
	app := kingpin.New("imagebench", "Load-test the image server with vegeta and plot what it costs.")
	app.Flag("name", "Scenario name: labels the output and names its folder.").Default("seed").StringVar(&c.Name)
	app.Flag("rate", "Requests per second.").Default("50").IntVar(&c.Rate)
	app.Flag("duration", "How long to attack.").Default("60s").DurationVar(&c.Duration)
	app.Flag("timeout", "Per-request timeout.").Default("30s").DurationVar(&c.Timeout)
	app.Flag("url", "URL or path to request (repeatable; requests cycle through them). Paths are relative to the server. Default: the seed URL.").StringsVar(&c.URLs)
	app.Flag("urls.file", "File with one URL or path per line (adds to --url).").StringVar(&c.URLsFile)
	app.Flag("cache-bust", "Make every request distinct so no result cache can answer it (see README).").BoolVar(&c.CacheBust)
	app.Flag("server.url", "Base URL of a running image server; empty: start --server.bin with the sample photo.").StringVar(&c.ServerURL)
	app.Flag("server.bin", "Image server binary to start when --server.url is empty.").Default("bin/imageserver").StringVar(&c.ServerBin)
	app.Flag("server.arg", "Extra argument for the started image server (repeatable).").StringsVar(&c.ServerArgs)
	app.Flag("server.pid", "Process id of a running server to sample for CPU and memory (with --server.url).").IntVar(&c.ServerPID)
	app.Flag("output.dir", "Folder for the plots and summary; the scenario name is appended.").Default("out/bench").StringVar(&c.OutDir)
	app.Flag("plot.format", "Plot file format: png or svg.").Default("png").StringVar(&c.PlotFormat)
	app.Flag("no-progress", "Do not print the progress line.").BoolVar(&c.NoProgress)
	app.Flag("sample.interval", "How often to sample the server's CPU and memory.").Default("250ms").DurationVar(&c.SampleEvery)
	app.Flag("scenarios", "Run these of the load runs (comma separated: "+strings.Join(scenarioNames(), ",")+"), each against a freshly started --server.bin, and report each against its target instead of one run.").StringVar(&c.Scenarios)
	app.Flag("uncached.rate", "Request rate of the uncached scenario (CPU per request).").Default("5").IntVar(&c.UncachedRate)
	app.Flag("sustained.rate", "Request rate of the sustained scenario.").Default("14").IntVar(&c.SustainedRate)
	app.Flag("out", "With --scenarios: also write the report to this file.").StringVar(&c.Out)
	if done, err := cli.Parse(app, args, stdout, stderr); done || err != nil {
		return nil, err
	}
	if c.URLsFile != "" {
		more, err := readURLs(c.URLsFile)
		if err != nil {
			return nil, cli.ConfigError{Err: fmt.Errorf("--urls.file: %v", err)}
		}
		c.URLs = append(c.URLs, more...)
	}
	if len(c.URLs) == 0 {
		c.URLs = []string{SeedPath}
	}
	if err := c.validate(); err != nil {
		return nil, cli.ConfigError{Err: err}
	}
	return &c, nil
}

func (c *config) validate() error {
	var errs []error
	if c.Rate < 1 || c.Rate > 100000 {
		errs = append(errs, fmt.Errorf("--rate=%d: want 1 to 100000 requests per second", c.Rate))
	}
	if c.Duration < time.Second {
		errs = append(errs, fmt.Errorf("--duration=%s: want at least 1s", c.Duration))
	}
	if c.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("--timeout=%s: want a positive duration", c.Timeout))
	}
	if c.PlotFormat != "png" && c.PlotFormat != "svg" {
		errs = append(errs, fmt.Errorf("--plot.format=%q: want png or svg", c.PlotFormat))
	}
	if c.SampleEvery < 10*time.Millisecond {
		errs = append(errs, fmt.Errorf("--sample.interval=%s: want at least 10ms", c.SampleEvery))
	}
	if strings.ContainsAny(c.Name, "/\\") || c.Name == "" || c.Name == "." || c.Name == ".." {
		errs = append(errs, fmt.Errorf("--name=%q: want a plain folder name", c.Name))
	}
	for _, name := range strings.Split(c.Scenarios, ",") {
		if c.Scenarios != "" && !slices.Contains(scenarioNames(), name) {
			errs = append(errs, fmt.Errorf("--scenarios=%q: %q is not one of %s", c.Scenarios, name, strings.Join(scenarioNames(), ", ")))
		}
	}
	if c.Scenarios != "" && c.ServerURL != "" {
		errs = append(errs, errors.New("--scenarios: each scenario starts its own --server.bin; not with --server.url"))
	}
	if c.UncachedRate < 1 || c.SustainedRate < 1 {
		errs = append(errs, fmt.Errorf("--uncached.rate=%d, --sustained.rate=%d: want at least 1 request per second", c.UncachedRate, c.SustainedRate))
	}
	if c.ServerURL != "" {
		if u, err := url.Parse(c.ServerURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("--server.url=%q: want a base URL such as http://127.0.0.1:3002", c.ServerURL))
		}
	} else if c.ServerPID != 0 {
		errs = append(errs, errors.New("--server.pid: only with --server.url (a started server is sampled anyway)"))
	}
	for _, u := range c.URLs {
		if _, err := resolve("http://127.0.0.1", u); err != nil {
			errs = append(errs, fmt.Errorf("--url=%q: %v", u, err))
		}
	}
	return errors.Join(errs...)
}

// resolve makes u absolute against base: full URLs stay, paths are joined.
func resolve(base, u string) (*url.URL, error) {
	b, err := url.Parse(base)
	if err != nil {
		return nil, err
	}
	r, err := url.Parse(u)
	if err != nil {
		return nil, errors.New("not a URL or path")
	}
	if r.IsAbs() {
		if r.Scheme != "http" && r.Scheme != "https" {
			return nil, errors.New("scheme must be http or https")
		}
		return r, nil
	}
	if !strings.HasPrefix(r.Path, "/") {
		return nil, errors.New("a path must start with /")
	}
	return b.ResolveReference(r), nil
}

func readURLs(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		if line := strings.TrimSpace(s.Text()); line != "" && !strings.HasPrefix(line, "#") {
			out = append(out, line)
		}
	}
	if err := s.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s has no URLs", path)
	}
	return out, nil
}
