package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/hostpush/hostpush/internal/procs"
)

// TestBasicAuthPasswordFile pushes to a real Pushgateway that requires
// basic auth (its exporter-toolkit web config), with the password read
// from password_file as Prometheus users write it; a wrong password is a
// 401 named in the error.
func TestBasicAuthPasswordFile(t *testing.T) {
	dir := t.TempDir()
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	webCfg := filepath.Join(dir, "web.yml")
	os.WriteFile(webCfg, []byte(fmt.Sprintf("basic_auth_users:\n  hostpush: %s\n", hash)), 0o600)
	addr := freeAddr(t)
	bin, err := procs.LookPath("prometheus-pushgateway", "prometheus-pushgateway")
	if err != nil {
		t.Fatal(err)
	}
	gw, err := procs.Start("pushgateway", bin, []string{"--web.listen-address=" + addr, "--persistence.file=", "--web.config.file=" + webCfg}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = gw.Stop(5 * time.Second) })
	waitFor(t, "the gateway to ask for credentials", procs.StartTimeout, func() bool {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusUnauthorized
	})

	pw := filepath.Join(dir, "password")
	config := func(password string) string {
		os.WriteFile(pw, []byte(password+"\n"), 0o600)
		p := filepath.Join(dir, "hostpush.yml")
		os.WriteFile(p, []byte(fmt.Sprintf("push:\n  url: http://%s\n  basic_auth: {username: hostpush, password_file: %s}\nscrape: []\n", addr, pw)), 0o644)
		return p
	}

	r := runBin(t, "--once", "--log.level=error", "--config.file="+config("wrong"))
	if r.code == 0 || !strings.Contains(lastLine(r.stderr), "status 401") {
		t.Fatalf("wrong password: exit %d, %q; want a failure naming status 401", r.code, lastLine(r.stderr))
	}
	r = runBin(t, "--once", "--log.level=error", "--config.file="+config("s3cret"))
	if r.code != 0 {
		t.Fatalf("right password: exit %d: %s", r.code, r.stderr)
	}
}
