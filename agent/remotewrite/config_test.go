package remotewrite

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/hostpush/hostpush/internal/yamlconf"
)

// decodeList decodes a remote_write list the way hostpush's config loader
// does: strict yaml.v3, then ValidateList.
func decodeList(src string) ([]Config, error) {
	var doc struct {
		RemoteWrite []Config `yaml:"remote_write"`
	}
	dec := yaml.NewDecoder(strings.NewReader(src))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		return nil, err
	}
	return doc.RemoteWrite, ValidateList(doc.RemoteWrite)
}

func TestConfigDecode(t *testing.T) {
	cfgs, err := decodeList(`
remote_write:
  - url: https://user:pw@vm.example:8428/api/v1/write?x=1
    external_labels: {dc: eu1}
    timeout: 5s
    buffer: {max_bytes: 64MiB, max_batches: 1000, storage_path: /var/lib/hostpush/rw}
    max_replay_rate: 50
    min_backoff: 100ms
    max_backoff: 1m
    basic_auth: {username: u, password_file: /etc/hostpush/pw}
    tls_config: {insecure_skip_verify: true}
  - url: http://127.0.0.1:9090/api/v1/write
    name: prom
    enable_http2: false
    le_quantile_format: shortest
`)
	if err != nil {
		t.Fatal(err)
	}
	c := cfgs[0]
	if c.Name != "https://vm.example:8428/api/v1/write" {
		t.Errorf("default name %q should be the URL without credentials and query", c.Name)
	}
	if c.Buffer.MaxBytes != 64<<20 || c.Buffer.MaxBatches != 1000 || c.MaxReplayRate != 50 ||
		time.Duration(c.Timeout) != 5*time.Second || time.Duration(c.MaxBackoff) != time.Minute {
		t.Errorf("fields not decoded: %+v", c)
	}
	if c.HTTPClientConfig.BasicAuth == nil || c.HTTPClientConfig.BasicAuth.PasswordFile != "/etc/hostpush/pw" || !c.HTTPClientConfig.TLSConfig.InsecureSkipVerify {
		t.Errorf("inline HTTP client settings not decoded: %+v", c.HTTPClientConfig)
	}
	if !c.HTTPClientConfig.FollowRedirects || !c.HTTPClientConfig.EnableHTTP2 {
		t.Errorf("HTTP client defaults lost: follow_redirects %v enable_http2 %v", c.HTTPClientConfig.FollowRedirects, c.HTTPClientConfig.EnableHTTP2)
	}
	if c.LeQuantileFormat != FormatCanonical {
		t.Errorf("le_quantile_format defaults to %q, want %q", c.LeQuantileFormat, FormatCanonical)
	}
	p := cfgs[1]
	if p.LeQuantileFormat != FormatShortest {
		t.Errorf("le_quantile_format %q, want %q as configured", p.LeQuantileFormat, FormatShortest)
	}
	if p.Name != "prom" || p.HTTPClientConfig.EnableHTTP2 || time.Duration(p.Timeout) != DefaultWriteTimeout || p.Buffer.MaxBytes != DefaultMaxBytes {
		t.Errorf("second output: %+v", p)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct{ name, yaml, want string }{
		{"unknown key", "- url: http://a/w\n  urll: x\n", "line 3: field urll not found in remote_write"},
		{"unknown nested key", "- url: http://a/w\n  buffer:\n    max_byte: 1\n", "line 4: field max_byte not found"},
		{"unknown key in tls_config", "- url: http://a/w\n  tls_config:\n    insecure: true\n", "line 4: field insecure not found"},
		{"missing url", "- name: x\n", "remote_write[0].url: missing"},
		{"bad scheme", "- url: ftp://a/w\n", `remote_write[0].url: "ftp://a/w" is not an absolute http or https URL`},
		{"small buffer", "- url: http://a/w\n  buffer: {max_bytes: 1KiB}\n", "remote_write[0].buffer.max_bytes: 1024 too small"},
		{"bad size", "- url: http://a/w\n  buffer: {max_bytes: lots}\n", `"lots" is not a size`},
		{"negative batches", "- url: http://a/w\n  buffer: {max_batches: -1}\n", "remote_write[0].buffer.max_batches: -1 is negative"},
		{"relative path", "- url: http://a/w\n  buffer: {storage_path: rw}\n", `remote_write[0].buffer.storage_path: "rw" is relative`},
		{"rate", "- url: http://a/w\n  max_replay_rate: -1\n", "remote_write[0].max_replay_rate: -1 out of range"},
		{"backoff order", "- url: http://a/w\n  min_backoff: 2s\n  max_backoff: 1s\n", "remote_write[0].max_backoff: 1s out of range; allowed: at least min_backoff (2s)"},
		{"timeout", "- url: http://a/w\n  timeout: 1h\n", "remote_write[0].timeout: 1h out of range"},
		{"external instance", "- url: http://a/w\n  external_labels: {instance: x}\n", "remote_write[0].external_labels.instance: instance is set on every series"},
		{"external bad name", "- url: http://a/w\n  external_labels: {1x: y}\n", "remote_write[0].external_labels.1x: invalid label name"},
		{"http client", "- url: http://a/w\n  bearer_token: a\n  bearer_token_file: b\n", "remote_write[0].http client settings: at most one of bearer_token"},
		{"tls file missing", "- url: https://a/w\n  tls_config: {ca_file: /nonexistent/ca.pem}\n", "remote_write[0].http client settings: unable to read CA cert"},
		{"le_quantile_format", "- url: http://a/w\n  le_quantile_format: prometheus2\n", `remote_write[0].le_quantile_format: "prometheus2" unknown; allowed: canonical ("1.0", as Prometheus 3 stores scraped buckets) or shortest ("1", as Prometheus 2.x does)`},
		{"duplicate name", "- url: http://a/w\n- url: http://a/w\n", `remote_write[1].name: "http://a/w" is also used by remote_write[0]`},
		{"shared storage", "- {url: http://a/w, buffer: {storage_path: /x}}\n- {url: http://b/w, buffer: {storage_path: /x/}}\n", `remote_write[1].buffer.storage_path: "/x" is also used by remote_write[0]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := "remote_write:\n" + indent(tc.yaml)
			_, err := decodeList(src)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got error %v\nwant it to contain %q", err, tc.want)
			}
		})
	}
}

// TestMaxBytesAboveMemory checks the upper bound of buffer.max_bytes
// against this host's real MemTotal: the memory size is accepted, one byte
// more is an error naming the key.
func TestMaxBytesAboveMemory(t *testing.T) {
	mem, ok := hostMemory()
	if !ok || mem < 64<<20 {
		t.Fatalf("MemTotal of this host: %d bytes (read: %v); want /proc/meminfo readable", mem, ok)
	}
	src := func(n uint64) string {
		return fmt.Sprintf("remote_write:\n  - url: http://a/w\n    buffer: {max_bytes: %d}\n", n)
	}
	if _, err := decodeList(src(mem)); err != nil {
		t.Errorf("max_bytes = MemTotal (%d) rejected: %v", mem, err)
	}
	_, err := decodeList(src(mem + 1))
	var fe *yamlconf.FieldError
	if !errors.As(err, &fe) || fe.Key != "remote_write[0].buffer.max_bytes" || !strings.Contains(fe.Msg, "more than this host's memory (MemTotal ") {
		t.Fatalf("max_bytes = MemTotal+1: got %v, want a FieldError for remote_write[0].buffer.max_bytes about the host's memory", err)
	}
	t.Logf("%v", err)
}

func indent(s string) string {
	var b bytes.Buffer
	for _, l := range strings.SplitAfter(s, "\n") {
		if l != "" {
			b.WriteString("  " + l)
		}
	}
	return b.String()
}

func TestValidateReportsAllFields(t *testing.T) {
	c := Config{URL: "nope", MinBackoff: -1}
	c.SetDefaults()
	c.MaxReplayRate = -5
	err := ValidateList([]Config{c})
	var fe *yamlconf.FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("want FieldError, got %v", err)
	}
	for _, key := range []string{"remote_write[0].url", "remote_write[0].min_backoff", "remote_write[0].max_replay_rate"} {
		if !strings.Contains(err.Error(), key+":") {
			t.Errorf("error does not name %s:\n%v", key, err)
		}
	}
}

func FuzzConfig(f *testing.F) {
	f.Add("remote_write:\n- url: http://a/w\n  buffer: {max_bytes: 64MiB}\n")
	f.Add("remote_write:\n- url: http://a/w\n  tls_config:\n    insecure: true\n")
	f.Add("remote_write:\n- &a {url: http://a/w}\n- *a\n")
	f.Add("remote_write:\n- {url: http://a/w, le_quantile_format: shortest, buffer: {max_bytes: 1TiB}}\n")
	f.Add("remote_write: [{url: 'http://[::1]:1/w', external_labels: {a: b}, http_headers: {X: {values: [y]}}}]")
	f.Fuzz(func(t *testing.T, src string) {
		cfgs, err := decodeList(src)
		if err == nil {
			for _, c := range cfgs {
				if c.Validate() != nil {
					t.Fatalf("ValidateList accepted what Validate rejects: %+v", c)
				}
			}
		}
	})
}

// TestHumanBytes: a size in an error message is written in the largest
// base-2 unit it reaches, whole when exact, else to one decimal.
func TestHumanBytes(t *testing.T) {
	for _, tc := range []struct {
		n    uint64
		want string
	}{
		{0, "0B"},
		{1000, "1000B"},
		{64 << 10, "64KiB"},
		{1536, "1.5KiB"},
		{16 << 20, "16MiB"},
		{1<<30 - 1, "1.0GiB"},
		{1 << 30, "1GiB"},
		{24_000_000_000, "22.4GiB"},
		{1 << 40, "1TiB"},
		{3 << 50, "3PiB"},
		{1 << 60, "1EiB"},
		{1<<63 - 1, "8.0EiB"},
		{1<<64 - 1, "16.0EiB"},
	} {
		if got := humanBytes(tc.n); got != tc.want {
			t.Errorf("humanBytes(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
}
