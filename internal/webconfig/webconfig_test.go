package webconfig

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hostpush/hostpush/internal/webconfig/webtest"
	"github.com/hostpush/hostpush/internal/yamlconf"
)

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	auth, tlsCfg, _ := webtest.Configs(t)
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		name, path string
		want       string // "": valid
	}{
		{"none", "", ""},
		{"basic auth", auth, ""},
		{"tls and basic auth", tlsCfg, ""},
		{"missing", filepath.Join(dir, "nope.yml"), "reading the web config file: open " + filepath.Join(dir, "nope.yml") + ": no such file"},
		{"unknown key", write("k.yml", "basic_auth_users: {}\ntls_server_confg:\n  cert_file: x\n"),
			`k.yml:2: unknown key "tls_server_confg" in the top level (allowed: basic_auth_users, http_server_config, rate_limit, tls_server_config)`},
		{"not a hash", write("h.yml", "basic_auth_users:\n  alice: plaintext\n"),
			"h.yml:2: basic_auth_users.alice: the password is not a bcrypt hash"},
		{"missing certificate", write("c.yml", "tls_server_config:\n  cert_file: none.pem\n  key_file: none.key\n"),
			"c.yml: failed to read cert_file (" + filepath.Join(dir, "none.pem") + ")"},
		{"key without certificate", write("n.yml", "tls_server_config:\n  key_file: key.pem\n"), "n.yml: missing one of cert or cert_file"},
		{"not yaml", write("y.yml", "basic_auth_users: [\n"), "y.yml:1:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Check(tc.path)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				return
			}
			var fe *yamlconf.FieldError
			if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.As(err, &fe) || strings.Contains(err.Error(), "\n") {
				t.Errorf("Check: %v, want one FieldError line containing %q", err, tc.want)
			}
		})
	}
}
