package remotewrite

import (
	"errors"
	"fmt"
	"maps"
	"net/url"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/common/config"
	"github.com/prometheus/common/model"
	"github.com/prometheus/procfs"
	"gopkg.in/yaml.v3"

	"github.com/hostpush/hostpush/internal/yamlconf"
)

// Config is one item of the `remote_write:` list.
type Config struct {
	// URL is the receiver's write endpoint, e.g. http://vm:8428/api/v1/write.
	URL string `yaml:"url"`
	// Name labels this output's metrics and logs; empty: the URL without
	// credentials and query.
	Name string `yaml:"name,omitempty"`
	// ExternalLabels are added to every series that does not already carry
	// the label (as Prometheus does with its external_labels).
	ExternalLabels map[string]string `yaml:"external_labels,omitempty"`
	// Timeout bounds one write request.
	Timeout model.Duration `yaml:"timeout,omitempty"`
	// Buffer bounds what is kept while the receiver cannot take it.
	Buffer BufferConfig `yaml:"buffer,omitempty"`
	// MaxReplayRate is the most write requests per second; it bounds how
	// fast a backlog is replayed after an outage.
	MaxReplayRate float64 `yaml:"max_replay_rate,omitempty"`
	// MinBackoff and MaxBackoff bound the jittered, doubling wait between
	// retries of a batch answered with 5xx, 429 or a network error.
	MinBackoff model.Duration `yaml:"min_backoff,omitempty"`
	MaxBackoff model.Duration `yaml:"max_backoff,omitempty"`
	// LeQuantileFormat is how le and quantile values are written:
	// FormatCanonical ("1.0", what Prometheus 3 stores for scraped ones) or
	// FormatShortest ("1", what Prometheus 2.x stores).
	LeQuantileFormat string `yaml:"le_quantile_format,omitempty"`

	// HTTPClientConfig holds basic_auth, authorization, oauth2, tls_config,
	// proxy_url, http_headers, ... exactly as in Prometheus. It is a named
	// field, not embedded, so that its own UnmarshalYAML is not promoted
	// to Config.
	HTTPClientConfig config.HTTPClientConfig `yaml:",inline"`
}

// BufferConfig bounds the buffer of batches not yet delivered. When either
// bound is exceeded the oldest batches are dropped and counted.
type BufferConfig struct {
	// MaxBytes bounds the compressed size of all buffered write requests;
	// accepts plain integers or units such as 64MiB.
	MaxBytes ByteSize `yaml:"max_bytes,omitempty"`
	// MaxBatches bounds the number of buffered batches; 0: no count limit.
	MaxBatches int `yaml:"max_batches,omitempty"`
	// StoragePath keeps the buffer in files under this directory so that a
	// restart loses nothing; empty: memory only.
	StoragePath string `yaml:"storage_path,omitempty"`
}

// Defaults, chosen for one host pushing every 5 s (about 10 KB per batch).
const (
	DefaultWriteTimeout  = 10 * time.Second
	DefaultMaxBytes      = 16 << 20 // about 4.5 h of 580-series gathers at 5 s
	DefaultMaxReplayRate = 20.0
	DefaultMinBackoff    = 500 * time.Millisecond
	DefaultMaxBackoff    = 30 * time.Second
	minMaxBytes          = 64 << 10
)

// The values of le_quantile_format.
const (
	FormatCanonical = "canonical"
	FormatShortest  = "shortest"
)

// DefaultConfig returns a Config with every default set and no URL.
func DefaultConfig() Config {
	c := Config{HTTPClientConfig: config.DefaultHTTPClientConfig}
	c.SetDefaults()
	return c
}

// SetDefaults fills every unset field with its default. The HTTP client's
// follow_redirects and enable_http2 cannot be told apart from an explicit
// false here; YAML decoding (UnmarshalYAML) starts from DefaultConfig and
// keeps them right.
func (c *Config) SetDefaults() {
	if c.Timeout == 0 {
		c.Timeout = model.Duration(DefaultWriteTimeout)
	}
	if c.Buffer.MaxBytes == 0 {
		c.Buffer.MaxBytes = DefaultMaxBytes
	}
	if c.MaxReplayRate == 0 {
		c.MaxReplayRate = DefaultMaxReplayRate
	}
	if c.MinBackoff == 0 {
		c.MinBackoff = model.Duration(DefaultMinBackoff)
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = model.Duration(DefaultMaxBackoff)
	}
	if c.Name == "" {
		c.Name = redactURL(c.URL)
	}
	if c.LeQuantileFormat == "" {
		c.LeQuantileFormat = FormatCanonical
	}
}

var labelNameRE = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// Validate reports every invalid field of one output, each a
// *yamlconf.FieldError keyed relative to the list item (url,
// buffer.max_bytes). Use ValidateList for the whole
// remote_write list: it prefixes the keys with remote_write[i].
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, yamlconf.Errorf(key, format, args...))
	}
	if u, err := url.Parse(c.URL); c.URL == "" {
		bad("url", "missing; allowed: an http or https URL such as http://127.0.0.1:8428/api/v1/write")
	} else if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("url", "%q is not an absolute http or https URL", c.URL)
	}
	if c.Timeout <= 0 || time.Duration(c.Timeout) > 5*time.Minute {
		bad("timeout", "%s out of range; allowed: more than 0s, at most 5m", c.Timeout)
	}
	if c.Buffer.MaxBytes < minMaxBytes {
		bad("buffer.max_bytes", "%d too small; allowed: at least 64KiB (one batch is about 10KB)", int64(c.Buffer.MaxBytes))
	} else if mem, ok := hostMemory(); ok && uint64(c.Buffer.MaxBytes) > mem {
		// The disk buffer falls back to memory when the disk fails, so
		// every byte of the bound may end up in RAM.
		bad("buffer.max_bytes", "%s is more than this host's memory (MemTotal %s); allowed: 64KiB up to the host's memory",
			humanBytes(uint64(c.Buffer.MaxBytes)), humanBytes(mem))
	}
	if f := c.LeQuantileFormat; f != FormatCanonical && f != FormatShortest {
		bad("le_quantile_format", "%q unknown; allowed: %s (\"1.0\", as Prometheus 3 stores scraped buckets) or %s (\"1\", as Prometheus 2.x does)",
			f, FormatCanonical, FormatShortest)
	}
	if c.Buffer.MaxBatches < 0 {
		bad("buffer.max_batches", "%d is negative; allowed: 0 (no count limit) or more", c.Buffer.MaxBatches)
	}
	if p := c.Buffer.StoragePath; p != "" && !filepath.IsAbs(p) {
		bad("buffer.storage_path", "%q is relative; allowed: an absolute directory path, or empty for memory only", p)
	}
	if !(c.MaxReplayRate > 0 && c.MaxReplayRate <= 1000) {
		bad("max_replay_rate", "%v out of range; allowed: more than 0, at most 1000 requests per second", c.MaxReplayRate)
	}
	if c.MinBackoff <= 0 {
		bad("min_backoff", "%s out of range; allowed: more than 0s", c.MinBackoff)
	}
	if c.MaxBackoff < c.MinBackoff || time.Duration(c.MaxBackoff) > time.Hour {
		bad("max_backoff", "%s out of range; allowed: at least min_backoff (%s), at most 1h", c.MaxBackoff, c.MinBackoff)
	}
	for _, name := range slices.Sorted(maps.Keys(c.ExternalLabels)) {
		key := "external_labels." + name
		switch {
		case !labelNameRE.MatchString(name) || strings.HasPrefix(name, "__"):
			bad(key, "invalid label name; allowed: [a-zA-Z_][a-zA-Z0-9_]* not starting with __")
		case name == "job" || name == "instance":
			bad(key, "%s is set on every series from push.job/push.instance; allowed: any other label name", name)
		case c.ExternalLabels[name] == "":
			bad(key, "empty value; allowed: a non-empty value")
		}
	}
	if err := c.HTTPClientConfig.Validate(); err != nil {
		bad("http client settings", "%v", err)
	} else if _, err := config.NewClientFromConfig(c.HTTPClientConfig, "remote_write"); err != nil {
		// Building the client reads the TLS files: a missing one must
		// fail --check-config and a reload here, not later in New (on a
		// reload, after the output it replaces was closed).
		bad("http client settings", "%v", err)
	}
	return errors.Join(errs...)
}

// ValidateList validates every output of the remote_write list, naming each
// key as remote_write[i].key, and checks that names and storage paths are
// unique (each output owns its metrics and its buffer directory). Call it
// after decoding; it sets defaults first.
func ValidateList(cfgs []Config) error {
	var errs []error
	names := map[string]int{}
	paths := map[string]int{}
	for i := range cfgs {
		c := &cfgs[i]
		c.SetDefaults()
		prefix := fmt.Sprintf("remote_write[%d].", i)
		if err := c.Validate(); err != nil {
			errs = append(errs, yamlconf.Under(prefix, err))
		}
		if j, dup := names[c.Name]; dup {
			errs = append(errs, yamlconf.Errorf(prefix+"name", "%q is also used by remote_write[%d]; allowed: a unique name per output", c.Name, j))
		}
		names[c.Name] = i
		if p := filepath.Clean(c.Buffer.StoragePath); c.Buffer.StoragePath != "" {
			if j, dup := paths[p]; dup {
				errs = append(errs, yamlconf.Errorf(prefix+"buffer.storage_path", "%q is also used by remote_write[%d]; allowed: a separate directory per output", p, j))
			}
			paths[p] = i
		}
	}
	return errors.Join(errs...)
}

var typeOfConfig = reflect.TypeFor[plainConfig]()

// plainConfig has Config's fields without its UnmarshalYAML.
type plainConfig Config

// UnmarshalYAML decodes one list item over DefaultConfig. yaml.v3 does not
// pass KnownFields on to custom unmarshalers, so unknown keys are checked
// here, with their line.
func (c *Config) UnmarshalYAML(node *yaml.Node) error {
	if err := yamlconf.CheckKnownFields(node, typeOfConfig, "remote_write"); err != nil {
		return err
	}
	type plain Config
	*c = DefaultConfig()
	c.Name = ""
	if err := node.Decode((*plain)(c)); err != nil {
		return err
	}
	c.SetDefaults()
	return nil
}

// ByteSize is a size in bytes; YAML accepts an integer or a string with a
// unit such as 512KiB, 64MiB or 1GiB.
type ByteSize = yamlconf.ByteSize

// hostMemory returns this host's MemTotal; ok is false where it cannot be
// read, and then the upper bound of buffer.max_bytes is not checked. A
// variable so that tests can set the memory size.
var hostMemory = func() (bytes uint64, ok bool) {
	fs, err := procfs.NewDefaultFS()
	if err != nil {
		return 0, false
	}
	mi, err := fs.Meminfo()
	if err != nil || mi.MemTotalBytes == nil {
		return 0, false
	}
	return *mi.MemTotalBytes, true
}

// humanBytes writes a size for an error message in the largest base-2
// unit it reaches: whole when exact (64KiB, 1EiB), else to one decimal
// (23.4GiB), moving up a unit where the rounding reaches 1024.
func humanBytes(n uint64) string {
	units := [...]string{"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	i := 0
	for i+1 < len(units) && n>>(10*(i+1)) > 0 {
		i++
	}
	if n&(1<<(10*i)-1) == 0 {
		return fmt.Sprintf("%d%s", n>>(10*i), units[i])
	}
	v := float64(n) / float64(uint64(1)<<(10*i))
	if v >= 1023.95 && i+1 < len(units) {
		v, i = v/1024, i+1
	}
	return fmt.Sprintf("%.1f%s", v, units[i])
}

func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return s
	}
	u.User, u.RawQuery, u.Fragment = nil, "", ""
	return u.String()
}
