package config

import (
	"strings"
	"testing"
	"time"
)

func TestParseDefaultsAndOverrides(t *testing.T) {
	f, err := Parse("t.yml", []byte(`
push:
  url: https://gw.example:9091
  interval: 10s
  grouping: {dc: eu1}
  basic_auth: {username: u, password_file: /etc/hostpush/pw}
collectors:
  enable: [wifi]
  intervals: {filesystem: 30s}
`))
	if err != nil {
		t.Fatal(err)
	}
	if f.Push.URL != "https://gw.example:9091" || f.Push.Interval != 10*time.Second || f.Push.Job != "host-stats" {
		t.Errorf("push = %+v", f.Push)
	}
	if f.Push.HTTPClientConfig.BasicAuth == nil || f.Push.HTTPClientConfig.BasicAuth.PasswordFile != "/etc/hostpush/pw" {
		t.Errorf("basic_auth not read: %+v", f.Push.HTTPClientConfig.BasicAuth)
	}
	if f.Collectors.Intervals["filesystem"] != 30*time.Second || f.Collectors.Enable[0] != "wifi" {
		t.Errorf("collectors = %+v", f.Collectors)
	}
	if !f.Push.HTTPClientConfig.FollowRedirects {
		t.Error("HTTP client defaults lost")
	}
}

func TestEmptyFileIsDefaults(t *testing.T) {
	f, err := Parse("t.yml", nil)
	if err != nil {
		t.Fatal(err)
	}
	if f.Push.URL != "http://localhost:9091" || f.Push.Interval != 5*time.Second {
		t.Errorf("defaults = %+v", f.Push)
	}
}

func TestErrorsNameKeyAndLine(t *testing.T) {
	tests := []struct {
		name  string
		yaml  string
		wants []string // each must appear, one line each
	}{
		{"unknown top-level key", "pushh: {}\n", []string{`t.yml:1: unknown key "pushh" in the top level (allowed: collectors, push`}},
		{"unknown nested key", "push:\n  url: http://x\n  intervall: 5s\n", []string{`t.yml:3: unknown key "intervall" in push (allowed: `}},
		{"unknown key in tls_config", "push:\n  tls_config:\n    ca_fil: x\n", []string{`t.yml:3: unknown key "ca_fil" in push.tls_config`}},
		{"bad duration", "push:\n  interval: 5x\n", []string{`t.yml:2: "5x" is not a valid duration`}},
		{"bad bool", "push:\n  delete_on_shutdown: maybe\n", []string{`t.yml:2: "maybe" is not a valid boolean`}},
		{"validation with line", "push:\n  job: host-stats\n  url: ftp://x\n", []string{`t.yml:3: push.url: "ftp://x" has scheme "ftp"`}},
		{"dotted key line", "collectors:\n  flags:\n    filesystem.nosuch: x\n", []string{`t.yml:3: collectors.flags.filesystem.nosuch: unknown collector option "filesystem.nosuch"`}},
		{"every problem at once", "push:\n  intervall: 5s\n  url: ftp://x\ncollectors:\n  enable: [nosuch]\n", []string{
			`t.yml:2: unknown key "intervall"`, `t.yml:3: push.url:`, `t.yml:5: collectors.enable[0]: unknown collector "nosuch"`}},
		{"bad value not reported twice", "push:\n  interval: 5x\n", []string{`t.yml:2: "5x"`}},
		{"not yaml", "push: [\n", []string{"t.yml:"}},
		{"unknown key in a remote_write item", "remote_write:\n  - url: http://127.0.0.1:8428/api/v1/write\n    foo: 1\n", []string{`t.yml:3: unknown key "foo" in remote_write (allowed: `}},
		{"scrape item", "scrape:\n  - {name: x, url: \"ftp://a\"}\n", []string{`t.yml:2: scrape[0].url: "ftp://a": scheme must be http or https`}},
		{"nothing to send to", "push: {disabled: true}\n", []string{`t.yml:1: push.disabled: true with no remote_write outputs`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("t.yml", []byte(tc.yaml))
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			for _, w := range tc.wants {
				if !strings.Contains(msg, w) {
					t.Errorf("error\n%s\nlacks %q", msg, w)
				}
			}
			if got := len(strings.Split(msg, "\n")); got != len(tc.wants) {
				t.Errorf("%d error lines, want %d:\n%s", got, len(tc.wants), msg)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"", "push: {url: http://x}", "collectors: {enable: [cpu], flags: {a: [b]}}", "push:\n  interval: 5x", "push: [", "- a", "push:\n  tls_config: {ca_file: x}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_, err := Parse("f.yml", []byte(s)) // must not panic
		if err != nil && strings.Contains(err.Error(), "goroutine") {
			t.Fatal(err)
		}
	})
}
