package procs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCachedMakesOnce checks the cache: the first call makes the file,
// the next reuses it, and a scratch directory left by a killed maker is
// removed by the next make.
func TestCachedMakesOnce(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	root, _ := os.UserCacheDir()
	leftover := filepath.Join(root, "hostpush", "thing-1", "make-123")
	if err := os.MkdirAll(leftover, 0o755); err != nil {
		t.Fatal(err)
	}
	made := 0
	create := func(tmp, bin string) error {
		made++
		return os.WriteFile(bin, []byte("x"), 0o755)
	}
	for range 2 {
		bin, err := cached(context.Background(), "thing-1", "thing", create)
		if err != nil {
			t.Fatal(err)
		}
		if b, err := os.ReadFile(bin); err != nil || string(b) != "x" {
			t.Fatalf("cached file %s: %q, %v", bin, b, err)
		}
	}
	if made != 1 {
		t.Errorf("made %d times, want once", made)
	}
	if _, err := os.Stat(leftover); !os.IsNotExist(err) {
		t.Errorf("leftover scratch directory still there: %v", err)
	}
}

// TestDownloadChecksSHA256 checks the pinned-checksum download against a
// fake archive, the one place a real one cannot serve a corrupt file or a
// package that was removed.
func TestDownloadChecksSHA256(t *testing.T) {
	body := "a .deb"
	sum := sha256.Sum256([]byte(body))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/pool/x.deb" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(body))
	}))
	defer srv.Close()
	path := filepath.Join(t.TempDir(), "x.deb")
	for _, tc := range []struct{ name, url, sha, want string }{
		{"ok", "/pool/x.deb", hex.EncodeToString(sum[:]), ""},
		{"corrupt", "/pool/x.deb", strings.Repeat("0", 64), "SHA256 " + hex.EncodeToString(sum[:]) + ", want the pinned"},
		{"gone", "/pool/y.deb", hex.EncodeToString(sum[:]), "404 Not Found (if the archive replaced the package, pin the new one"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := download(context.Background(), srv.URL+tc.url, path, tc.sha)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
		})
	}
}
