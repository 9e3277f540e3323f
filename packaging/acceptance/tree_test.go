//go:build acceptance

package acceptance

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// release is a Debian release the packages are installed on.
type release struct {
	suite   string // debootstrap's name: bookworm, trixie
	name    string // Debian 12
	libvips string // the package that ships libvips.so.42 there
}

func (r release) String() string { return r.name + " (" + r.suite + ")" }

// releases are the ones make acceptance runs on: oldstable and stable.
var releases = []release{
	{suite: "bookworm", name: "Debian 12", libvips: "libvips42"},
	// trixie's libvips42t64 Provides libvips42, so the imageserver .deb
	// built on bookworm installs there unchanged.
	{suite: "trixie", name: "Debian 13", libvips: "libvips42t64"},
}

// treeRecipe names what treeTarball does after debootstrap; change it when
// that changes, so that cached trees of the old recipe are rebuilt.
const treeRecipe = "v2: apt-get install prometheus-pushgateway (disabled); apt-get --download-only prometheus-node-exporter"

// Packages of the cached tree. debootstrap installs the base ones; apt
// inside the tree installs the Pushgateway (the release's own, the target of
// the pushes) and downloads prometheus-node-exporter, which the
// coexistence step installs offline.
var (
	treeBase       = []string{"systemd", "systemd-sysv", "dbus", "adduser", "iproute2", "ca-certificates", "procps"}
	treeInstalled  = []string{"prometheus-pushgateway"}
	treeDownloaded = []string{"prometheus-node-exporter"}
)

func (r release) debootstrapPackages() []string {
	return append(append([]string{}, treeBase...), r.libvips)
}

// cacheDir is where the debootstrap tarballs and the previous release's
// packages live between runs.
func cacheDir() (string, error) {
	if d := os.Getenv("HOSTPUSH_ACCEPTANCE_CACHE"); d != "" {
		return d, nil
	}
	if os.Geteuid() == 0 {
		return "/var/cache/hostpush-acceptance", nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("finding a cache directory: %w", err)
	}
	return filepath.Join(d, "hostpush-acceptance"), nil
}

// aptMirror returns the Debian archive this machine's apt uses (deb822
// .sources files or one-line sources.list), so that the tree is built from
// a mirror the machine can reach. A source listing the suite wins; else any
// non-security Debian source, since one archive serves every release.
func aptMirror(suite string) string {
	if m := os.Getenv("HOSTPUSH_ACCEPTANCE_MIRROR"); m != "" {
		return m
	}
	type source struct{ uri, suites string }
	var sources []source
	files, _ := filepath.Glob("/etc/apt/sources.list.d/*.sources")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, stanza := range strings.Split(string(b), "\n\n") {
			var s source
			for _, line := range strings.Split(stanza, "\n") {
				k, v, ok := strings.Cut(line, ":")
				if !ok {
					continue
				}
				switch strings.TrimSpace(k) {
				case "URIs":
					if f := strings.Fields(v); len(f) > 0 {
						s.uri = f[0]
					}
				case "Suites":
					s.suites = " " + strings.TrimSpace(v) + " "
				}
			}
			sources = append(sources, s)
		}
	}
	if b, err := os.ReadFile("/etc/apt/sources.list"); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			if f := strings.Fields(sc.Text()); len(f) >= 3 && f[0] == "deb" {
				sources = append(sources, source{uri: f[1], suites: " " + f[2] + " "})
			}
		}
	}
	debian := func(s source) bool {
		return s.uri != "" && !strings.Contains(s.uri, "security") && strings.Contains(s.uri, "debian")
	}
	for _, s := range sources {
		if debian(s) && strings.Contains(s.suites, " "+suite+" ") {
			return s.uri
		}
	}
	for _, s := range sources {
		if debian(s) && strings.Contains(s.suites, " bookworm ") {
			return s.uri
		}
	}
	return "http://deb.debian.org/debian"
}

// treeTarball returns the cached tarball of the release's Debian tree,
// building it first when it is missing. built reports whether it was built.
// The cache key covers everything that makes two trees differ: suite,
// package lists, recipe and mirror.
func treeTarball(t *testing.T, r release) (path string, built bool) {
	t.Helper()
	dir, err := cacheDir()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("creating the cache directory: %v", err)
	}
	mirror := aptMirror(r.suite)
	key := strings.Join([]string{r.suite, "minbase", strings.Join(r.debootstrapPackages(), ","),
		strings.Join(treeInstalled, ","), strings.Join(treeDownloaded, ","), treeRecipe, mirror}, " ")
	sum := sha256.Sum256([]byte(key))
	path = filepath.Join(dir, fmt.Sprintf("debian-%s-%s.tar", r.suite, hex.EncodeToString(sum[:])[:12]))
	if _, err := os.Stat(path); err == nil {
		return path, false
	}
	t.Logf("building the %s tree with debootstrap from %s (cached as %s)", r, mirror, path)
	tree, err := os.MkdirTemp(dir, "tree-")
	if err != nil {
		t.Fatal(err)
	}
	// MkdirTemp makes it 0700, and it becomes the container's /: services
	// that drop root (dbus-daemon) could not reach any file.
	if err := os.Chmod(tree, 0o755); err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(tree)
	start := time.Now()
	run(t, 20*time.Minute, "debootstrap", "--variant=minbase", "--include="+strings.Join(r.debootstrapPackages(), ","), r.suite, tree, mirror)
	t.Logf("debootstrap %s: %.0fs", r.suite, time.Since(start).Seconds())
	bakePackages(t, tree)
	tmp := path + ".tmp"
	run(t, 5*time.Minute, "tar", "-C", tree, "-cf", tmp, ".")
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	// Trees of an older key are of no further use.
	old, _ := filepath.Glob(filepath.Join(dir, "debian-"+r.suite+"-*.tar"))
	for _, o := range old {
		if o != path {
			os.Remove(o)
		}
	}
	return path, true
}

// bakePackages installs and downloads the tree's apt packages with apt
// inside the tree (systemd-nspawn without --boot: a chroot with /proc,
// /sys and /dev, sharing the host's network), so that warm runs need no
// network. The packaged Pushgateway is disabled: enabled, it would listen on
// the host's :9091 at every boot (the container shares the network), where
// the test starts it on a free port instead.
func bakePackages(t *testing.T, tree string) {
	t.Helper()
	start := time.Now()
	inTree := func(args ...string) {
		t.Helper()
		full := append([]string{"-D", tree, "--register=no", "--keep-unit", "--pipe", "-q",
			"-E", "DEBIAN_FRONTEND=noninteractive", "--"}, args...)
		run(t, 15*time.Minute, "systemd-nspawn", full...)
	}
	inTree("apt-get", "update", "-q")
	inTree(append([]string{"apt-get", "install", "-y", "-q", "--no-install-recommends"}, treeInstalled...)...)
	inTree("apt-get", "clean")
	inTree(append([]string{"apt-get", "install", "-y", "-q", "--no-install-recommends", "--download-only"}, treeDownloaded...)...)
	inTree("systemctl", "disable", "prometheus-pushgateway.service")
	t.Logf("apt in the tree: %.0fs", time.Since(start).Seconds())
}
