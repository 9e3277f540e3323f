// Package pushgateway sends batches to a Prometheus Pushgateway: one PUT of
// delimited protobuf per group, so the group on the gateway holds exactly
// the last gather (a family that disappears is gone, unlike with POST).
package pushgateway

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/common/config"
	"github.com/prometheus/common/expfmt"

	"github.com/hostpush/hostpush/internal/batch"
	"github.com/hostpush/hostpush/internal/yamlconf"
)

// Config says where and how to push.
type Config struct {
	URL              string            `yaml:"url"`
	Job              string            `yaml:"job"`
	Instance         string            `yaml:"instance"`
	Interval         time.Duration     `yaml:"interval"`
	Timeout          time.Duration     `yaml:"timeout"`
	Grouping         map[string]string `yaml:"grouping"`
	DeleteOnShutdown bool              `yaml:"delete_on_shutdown"`
	// Disabled turns the Pushgateway output off, for remote_write only.
	Disabled bool `yaml:"disabled"`

	HTTPClientConfig config.HTTPClientConfig `yaml:",inline"`
}

// DefaultConfig returns the defaults: localhost:9091, job host-stats,
// every 5 s, the instance filled in from the host name by the caller.
func DefaultConfig() Config {
	return Config{
		URL:              "http://localhost:9091",
		Job:              "host-stats",
		Interval:         5 * time.Second,
		HTTPClientConfig: config.DefaultHTTPClientConfig,
	}
}

// EffectiveTimeout is the push timeout: the configured one, or half the
// interval.
func (c *Config) EffectiveTimeout() time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return c.Interval / 2
}

// Validate checks the block; each problem is a *yamlconf.FieldError keyed
// under push.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, yamlconf.Errorf(key, format, args...))
	}
	if !c.Disabled {
		u, err := url.Parse(c.URL)
		switch {
		case err != nil:
			bad("push.url", "%q is not a URL (expected e.g. http://localhost:9091)", c.URL)
		case u.Scheme != "http" && u.Scheme != "https":
			bad("push.url", "%q has scheme %q (allowed: http, https)", c.URL, u.Scheme)
		case u.Host == "":
			bad("push.url", "%q has no host (expected e.g. http://localhost:9091)", c.URL)
		}
	}
	if c.Job == "" {
		bad("push.job", "empty (expected a job name, default host-stats)")
	}
	if c.Interval <= 0 {
		bad("push.interval", "%s is not a positive duration (e.g. 5s)", c.Interval)
	}
	if c.Timeout < 0 || (c.Interval > 0 && c.Timeout >= c.Interval) {
		bad("push.timeout", "%s must be shorter than push.interval %s (0: half the interval)", c.Timeout, c.Interval)
	}
	for k := range c.Grouping {
		if !validLabelName(k) || k == "job" || k == "instance" {
			bad("push.grouping", "%q is not allowed as a grouping label (a label name [a-zA-Z_][a-zA-Z0-9_]*, not job or instance)", k)
		}
	}
	if err := c.HTTPClientConfig.Validate(); err != nil {
		bad("push", "%v", err)
	} else if _, err := config.NewClientFromConfig(c.HTTPClientConfig, "hostpush"); err != nil {
		// Building the client reads the TLS files: a missing one must
		// fail --check-config and a reload here, not later in New.
		bad("push", "%v", err)
	}
	return errors.Join(errs...)
}

func validLabelName(s string) bool {
	if s == "" || strings.HasPrefix(s, "__") {
		return false
	}
	for i, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || (i > 0 && r >= '0' && r <= '9')) {
			return false
		}
	}
	return true
}

// Pusher PUTs each group of a batch to the gateway. It is used from one
// goroutine at a time (the loop).
type Pusher struct {
	base      string
	client    *http.Client
	deleteOn  bool
	buf       []byte // reused between pushes
	lastPaths []string
}

var _ batch.Sender = (*Pusher)(nil)

// New builds a Pusher with the block's HTTP client settings.
func New(c Config) (*Pusher, error) {
	client, err := config.NewClientFromConfig(c.HTTPClientConfig, "hostpush")
	if err != nil {
		return nil, fmt.Errorf("push: building HTTP client: %w", err)
	}
	return &Pusher{base: strings.TrimRight(c.URL, "/"), client: client, deleteOn: c.DeleteOnShutdown}, nil
}

// Name implements batch.Sender.
func (p *Pusher) Name() string { return "pushgateway " + p.base }

// GroupPath returns the grouping-key path of a group:
// /metrics/job/<job>/instance/<host>/<label>/<value>..., with the @base64
// form for values that are empty or hold a slash.
func GroupPath(job string, grouping []batch.Label) string {
	var b strings.Builder
	b.WriteString("/metrics")
	writePair(&b, "job", job)
	for _, l := range grouping {
		writePair(&b, l.Name, l.Value)
	}
	return b.String()
}

func writePair(b *strings.Builder, name, value string) {
	b.WriteByte('/')
	b.WriteString(name)
	switch {
	case value == "":
		// The gateway reads "=" as the base64 of the empty string.
		b.WriteString("@base64/=")
	case strings.Contains(value, "/"):
		b.WriteString("@base64/")
		b.WriteString(base64.RawURLEncoding.EncodeToString([]byte(value)))
	default:
		b.WriteByte('/')
		b.WriteString(url.PathEscape(value))
	}
}

// Send implements batch.Sender: one PUT per group. All groups are tried;
// the errors are joined.
func (p *Pusher) Send(ctx context.Context, b *batch.Batch) error {
	var errs []error
	paths := make([]string, 0, len(b.Groups))
	for _, g := range b.Groups {
		path := GroupPath(g.Job, b.Grouping)
		paths = append(paths, path)
		p.buf = p.buf[:0]
		for _, f := range g.Families {
			p.buf = AppendDelimited(p.buf, f)
		}
		if err := p.do(ctx, http.MethodPut, path, p.buf); err != nil {
			errs = append(errs, err)
			// The transport may still be reading a body the gateway
			// answered early; the next push must not overwrite it.
			p.buf = nil
		}
	}
	p.lastPaths = paths
	return errors.Join(errs...)
}

// Close implements batch.Sender: with delete_on_shutdown it deletes the
// groups of the last push.
func (p *Pusher) Close(ctx context.Context) error {
	if !p.deleteOn {
		return nil
	}
	var errs []error
	for _, path := range p.lastPaths {
		errs = append(errs, p.do(ctx, http.MethodDelete, path, nil))
	}
	return errors.Join(errs...)
}

// Error is a push the gateway refused or that did not reach it.
type Error struct {
	Method, URL string
	Status      int // 0 when no answer came
	Body        string
	Err         error
}

func (e *Error) Error() string {
	if e.Status == 0 {
		return fmt.Sprintf("%s %s: %v", e.Method, e.URL, e.Err)
	}
	return fmt.Sprintf("%s %s: status %d: %s", e.Method, e.URL, e.Status, e.Body)
}

func (e *Error) Unwrap() error { return e.Err }

func (p *Pusher) do(ctx context.Context, method, path string, body []byte) error {
	u := p.base + path
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return &Error{Method: method, URL: u, Err: err}
	}
	if body != nil {
		req.Header.Set("Content-Type", string(expfmt.NewFormat(expfmt.TypeProtoDelim)))
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return &Error{Method: method, URL: u, Err: unwrapURLError(err)}
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode/100 != 2 {
		return &Error{Method: method, URL: u, Status: resp.StatusCode, Body: strings.TrimSpace(string(msg))}
	}
	return nil
}

// unwrapURLError drops net/url's "Put \"...\":" prefix: Error already names
// method and URL once.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
