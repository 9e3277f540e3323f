package main

import (
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hostpush/hostpush/internal/webconfig/webtest"
)

// TestWebConfig runs the binary with exporter-toolkit's web flags: behind
// a --web.config.file it answers 401 without and 200 with the credentials
// (the bcrypt hash in the file), over HTTPS with a TLS file (a certificate
// made in the test), at the --web.telemetry-path, with a landing page at /.
func TestWebConfig(t *testing.T) {
	auth, tlsCfg, tlsClient := webtest.Configs(t)
	for _, c := range []struct {
		name, webConfig, scheme, path string
		client                        *http.Client
	}{
		{"basic auth", auth, "http", "/metrics", http.DefaultClient},
		{"tls and basic auth", tlsCfg, "https", "/metrics", tlsClient},
		{"telemetry path", auth, "http", "/host/metrics", http.DefaultClient},
	} {
		t.Run(c.name, func(t *testing.T) {
			addr := freeAddr(t)
			args := []string{"--push.url=http://127.0.0.1:1", "--web.listen-address=" + addr, "--web.config.file=" + c.webConfig, "--log.level=error"}
			if c.path != "/metrics" {
				args = append(args, "--web.telemetry-path="+c.path)
			}
			cmd, stderr := startAgent(t, args...)
			base := c.scheme + "://" + addr
			waitFor(t, "the endpoint to ask for credentials", 20*time.Second, func() bool {
				code, err := webtest.Get(c.client, base+c.path, false)
				return err == nil && code == http.StatusUnauthorized
			})
			if code, err := webtest.Get(c.client, base+c.path, true); err != nil || code != 200 {
				t.Errorf("%s with credentials: %d %v, want 200", c.path, code, err)
			}
			body := getAuthorized(t, c.client, base+c.path)
			if !strings.Contains(body, "hostpush_build_info{") || !strings.Contains(body, "node_scrape_collector_success{") {
				t.Errorf("%s does not serve the gather: %.300s", c.path, body)
			}
			if page := getAuthorized(t, c.client, base+"/"); !strings.Contains(page, "hostpush") || !strings.Contains(page, strings.TrimPrefix(c.path, "/")) {
				t.Errorf("landing page: %.300s", page)
			}
			if code, _ := webtest.Get(c.client, base+"/healthz", true); code != 200 {
				t.Errorf("/healthz: %d", code)
			}
			if c.path != "/metrics" {
				if code, _ := webtest.Get(c.client, base+"/metrics", true); code != 404 {
					t.Errorf("/metrics beside --web.telemetry-path=%s: %d, want 404", c.path, code)
				}
			}
			if c.scheme == "https" { // Go's TLS server refuses plain HTTP with a 400
				if code, err := webtest.Get(http.DefaultClient, "http://"+addr+c.path, true); err != nil || code != 400 {
					t.Errorf("plain HTTP to the TLS endpoint: %d %v, want 400", code, err)
				}
			}
			if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			if err := cmd.Wait(); err != nil {
				t.Errorf("exit after SIGTERM: %v; stderr: %s", err, stderr)
			}
		})
	}
}

func getAuthorized(t *testing.T, client *http.Client, url string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.SetBasicAuth(webtest.User, webtest.Password)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// TestWebConfigErrors: a web config file with a mistake, or a telemetry
// path that cannot work, exits 2 with one line naming it (also with
// --check-config); an address in use fails the run (exit 1) naming it.
func TestWebConfigErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	unknown := write("unknown.yml", "basic_auth_user:\n  a: b\n")
	plain := write("plain.yml", "basic_auth_users:\n  alice: s3cret\n")
	noCert := write("nocert.yml", "tls_server_config:\n  cert_file: missing.pem\n  key_file: missing.key\n")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--web.listen-address=127.0.0.1:0", "--web.config.file=" + unknown}, unknown + `:1: unknown key "basic_auth_user" in the top level (allowed: basic_auth_users,`},
		{[]string{"--web.listen-address=127.0.0.1:0", "--web.config.file=" + plain}, plain + ":2: basic_auth_users.alice: the password is not a bcrypt hash"},
		{[]string{"--check-config", "--web.config.file=" + noCert}, noCert + ": failed to read cert_file (" + filepath.Join(dir, "missing.pem")},
		{[]string{"--check-config", "--web.config.file=" + filepath.Join(dir, "none.yml")}, "reading the web config file: open " + filepath.Join(dir, "none.yml")},
		{[]string{"--check-config", "--web.telemetry-path=metrics"}, `--web.telemetry-path: "metrics" must start with /`},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			r := runBin(t, c.args...)
			if r.code != 2 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, "hostpush: "+c.want) {
				t.Errorf("exit %d, stderr %q; want 2 and one line containing %q", r.code, r.stderr, c.want)
			}
		})
	}

	t.Run("address in use", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		r := runBin(t, "--push.url=http://127.0.0.1:1", "--web.listen-address="+ln.Addr().String(), "--log.level=error")
		if want := "hostpush: serving /metrics on " + ln.Addr().String() + ": listen tcp " + ln.Addr().String() + ": bind: address already in use"; r.code != 1 || !strings.Contains(r.stderr, want) {
			t.Errorf("exit %d, stderr %q; want 1 and %q", r.code, r.stderr, want)
		}
	})
}
