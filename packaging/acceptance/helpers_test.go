//go:build acceptance

package acceptance

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// packages is what every release's run installs: the current packages from
// dist/, a newer build of hostpush, and the previous release's packages.
type packages struct {
	repo       string
	version    string // the binaries' version (VERSION file)
	hostpush   string // dist/hostpush_<package version>_<arch>.deb
	imageserv  string
	newDeb     string // the same tree, version+"+acceptance1"
	newVersion string
	prev       previous
}

// setup finds the current packages and builds (or takes from the cache) the
// others, printing its own step table.
func setup(t *testing.T, withNewer bool) *packages {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("the acceptance test boots containers with systemd-nspawn: run it as root (make acceptance)")
	}
	for _, tool := range []string{"systemd-nspawn", "debootstrap", "nsenter", "dpkg-deb", "tar", "git", "make", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is missing: run packaging/install-deps.sh acceptance", tool)
		}
	}
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	vb, err := os.ReadFile(filepath.Join(repo, "VERSION"))
	if err != nil {
		t.Fatal(err)
	}
	p := &packages{repo: repo, version: strings.TrimSpace(string(vb))}
	find := func(pkg string) string {
		t.Helper()
		debs, _ := filepath.Glob(filepath.Join(repo, "dist", pkg+"_"+debVersion(p.version)+"_*.deb"))
		if len(debs) != 1 {
			t.Fatalf("want one dist/%s_%s_<arch>.deb, found %d: run make deb first", pkg, debVersion(p.version), len(debs))
		}
		return debs[0]
	}
	p.hostpush, p.imageserv = find("hostpush"), find("imageserver")
	s := newSteps(t, "set-up")
	if withNewer {
		s.run("build a newer hostpush package (same tree, version "+p.version+"+acceptance1)", func() {
			p.newDeb, p.newVersion = buildNewer(t, repo, p.version)
		})
	}
	s.run("previous release's packages, built from "+previousCommit, func() {
		var built bool
		p.prev, built = previousRelease(t, repo)
		s.note("version %s, %s", p.prev.version, map[bool]string{true: "built and cached", false: "cached"}[built])
	})
	return p
}

// machineName is a fresh container name, so that runs never collide.
func machineName(prefix string) string {
	rnd := make([]byte, 3)
	rand.Read(rnd)
	return prefix + "-" + hex.EncodeToString(rnd)
}

// buildNewer builds bin/hostpush with a higher version into a temporary
// directory, with the Makefile's linker flags, and packages it without the
// gates (they ran on the real one).
func buildNewer(t *testing.T, repo, version string) (deb, newVersion string) {
	t.Helper()
	newVersion = version + "+acceptance1"
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	flags := exec.CommandContext(ctx, "make", "-s", "--no-print-directory", "ldflags", "VERSION="+newVersion)
	flags.Dir = repo
	ldflags, err := flags.Output()
	if err != nil {
		t.Fatalf("make ldflags: %v", err)
	}
	build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags", strings.TrimSpace(string(ldflags)),
		"-o", filepath.Join(dir, "hostpush"), "./cmd/hostpush")
	build.Dir = repo
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/hostpush: %v\n%s", err, out)
	}
	pkg := exec.CommandContext(ctx, filepath.Join(repo, "packaging", "build-deb.sh"), "hostpush")
	pkg.Dir = repo
	pkg.Env = append(os.Environ(), "VERSION="+newVersion, "BIN="+filepath.Join(dir, "hostpush"), "DIST="+dir, "GATES=0")
	if out, err := pkg.CombinedOutput(); err != nil {
		t.Fatalf("packaging the newer build: %v\n%s", err, out)
	}
	debs, _ := filepath.Glob(filepath.Join(dir, "hostpush_"+debVersion(newVersion)+"_*.deb"))
	if len(debs) != 1 {
		t.Fatalf("want one hostpush_%s_<arch>.deb in %s, found %d", debVersion(newVersion), dir, len(debs))
	}
	return debs[0], newVersion
}

func expect(t *testing.T, what, got, want string) {
	t.Helper()
	if got != want {
		t.Fatalf("%s: got %q, want %q", what, got, want)
	}
}

// waitUnit waits up to 30 s for a unit to reach the states.
func waitUnit(t *testing.T, c *container, u, active, sub string) {
	t.Helper()
	if err := waitFor(30*time.Second, func() error {
		a, s := c.show(u, "ActiveState"), c.show(u, "SubState")
		if a != active || s != sub {
			return fmt.Errorf("%s is %s (%s), want %s (%s)", u, a, s, active, sub)
		}
		return nil
	}); err != nil {
		out, _ := c.exec(time.Minute, "systemctl", "status", "--no-pager", "-n", "30", u)
		t.Fatalf("%v\n%s", err, out)
	}
}

// waitPush waits up to 30 s for a sample of family with the labels match and
// label key set to value at the gateway.
func waitPush(t *testing.T, gw *gateway, family string, match map[string]string, key, value string) {
	t.Helper()
	if err := waitFor(30*time.Second, func() error {
		vals, err := gw.labelValues(family, match, key)
		if err != nil {
			return err
		}
		for _, v := range vals {
			if v == value {
				return nil
			}
		}
		return fmt.Errorf("%s%v at the gateway has %s values %q, want %q", family, match, key, vals, value)
	}); err != nil {
		t.Fatal(err)
	}
}

// freshPush waits up to 30 s for a push of the group after since.
func freshPush(t *testing.T, gw *gateway, match map[string]string, since time.Time) {
	t.Helper()
	if err := waitFor(30*time.Second, func() error {
		s, err := gw.samples("push_time_seconds", match, "")
		if err != nil {
			return err
		}
		if v, ok := s[""]; !ok || v < float64(since.UnixNano())/1e9 {
			return fmt.Errorf("no push of %v since %s (push_time_seconds %v)", match, since.Format(time.TimeOnly), s)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// isEnabled returns what systemctl is-enabled prints (it exits 1 when the
// unit is disabled).
func (c *container) isEnabled(u string) string {
	out, _ := c.exec(time.Minute, "systemctl", "is-enabled", u)
	return strings.TrimSpace(out)
}

// pkgVersion returns the installed version of a package in the container.
func (c *container) pkgVersion(pkg string) string {
	c.t.Helper()
	return strings.TrimSpace(c.must("dpkg-query", "-W", "-f=${Version}", pkg))
}

// stat returns owner, group and octal mode of a path in the container.
func (c *container) stat(p string) string {
	c.t.Helper()
	return strings.TrimSpace(c.must("stat", "-c", "%U:%G %a", p))
}

// execSplit runs a command in the container and returns stdout and stderr
// separately.
func (c *container) execSplit(timeout time.Duration, args ...string) (string, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	full := append([]string{"-t", strconv.Itoa(c.pid), "-m", "-u", "-i", "-p", "--",
		"/usr/bin/env", "-i", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8"}, args...)
	cmd := killable(exec.CommandContext(ctx, "nsenter", full...))
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return out.String(), errb.String(), err
}

// aptInstall installs local .debs or packages in the container. Upgrades
// keep conffiles the admin changed, as unattended upgrades do (dpkg would
// otherwise ask, and a prompt with no terminal fails).
func (c *container) aptInstall(args ...string) string {
	c.t.Helper()
	return c.must(append([]string{"apt-get", "install", "-y", "--no-install-recommends",
		"-o", "Dpkg::Options::=--force-confdef", "-o", "Dpkg::Options::=--force-confold"}, args...)...)
}

// editConfig applies replacements to a configuration file's text, failing
// when a line to replace is not there.
func editConfig(t *testing.T, text string, repl map[string]string) string {
	t.Helper()
	for old, new := range repl {
		if !strings.Contains(text, old) {
			t.Fatalf("packaged %s has no line %q to edit", confPath, old)
		}
		text = strings.Replace(text, old, new, 1)
	}
	return text
}
