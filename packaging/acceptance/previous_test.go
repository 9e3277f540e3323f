//go:build acceptance

package acceptance

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// previousCommit is the commit that shipped the previous release (0.1.0).
// The upgrade steps install the packages built from it, then the current
// ones over them.
const previousCommit = "ce8e9c4"

// previous holds the previous release's packages.
type previous struct {
	version     string // the VERSION file at previousCommit
	hostpush    string // .deb paths in the cache
	imageserver string
}

// previousRelease returns the packages built from previousCommit with that
// commit's own Makefile and build-deb.sh, building them into the cache
// (keyed by the commit) when they are missing.
func previousRelease(t *testing.T, repo string) (p previous, built bool) {
	t.Helper()
	git := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", repo}, args...)...)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("git %s: %v (the upgrade steps need the commit of the previous release, %s, in this clone: git fetch --unshallow)",
				strings.Join(args, " "), err, previousCommit)
		}
		return strings.TrimSpace(string(out))
	}
	commit := git("rev-parse", "--verify", previousCommit+"^{commit}")
	p.version = git("show", commit+":VERSION")
	dir, err := cacheDir()
	if err != nil {
		t.Fatal(err)
	}
	dist := filepath.Join(dir, "previous-"+commit[:12])
	p.hostpush = filepath.Join(dist, fmt.Sprintf("hostpush_%s_%s.deb", p.version, debArch()))
	p.imageserver = filepath.Join(dist, fmt.Sprintf("imageserver_%s_%s.deb", p.version, debArch()))
	if exists(p.hostpush) && exists(p.imageserver) {
		return p, false
	}
	src, err := os.MkdirTemp(dir, "previous-src-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(src)
	run(t, time.Minute, "sh", "-c", fmt.Sprintf("git -C '%s' archive --format=tar %s | tar -x -C '%s'", repo, commit, src))
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	inSrc := func(env []string, name string, args ...string) {
		t.Helper()
		cmd := killable(exec.CommandContext(ctx, name, args...))
		cmd.Dir, cmd.Env = src, append(os.Environ(), env...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("building the previous release at %s: %s %s: %v\n%s", previousCommit, name, strings.Join(args, " "), err, out)
		}
	}
	// The archive has no .git: give the Makefile the revision, and nfpm
	// the commit's time for reproducible packages.
	epoch := "SOURCE_DATE_EPOCH=" + git("show", "-s", "--format=%ct", commit)
	inSrc(nil, "make", "build", "VERSION="+p.version, "REVISION="+commit[:7])
	tmp := dist + ".tmp"
	os.RemoveAll(tmp)
	for _, pkg := range []string{"hostpush", "imageserver"} {
		inSrc([]string{epoch, "VERSION=" + p.version, "DIST=" + tmp, "GATES=0"}, "packaging/build-deb.sh", pkg)
	}
	os.RemoveAll(dist)
	if err := os.Rename(tmp, dist); err != nil {
		t.Fatal(err)
	}
	os.RemoveAll(filepath.Join(dist, "stage"))
	if !exists(p.hostpush) || !exists(p.imageserver) {
		t.Fatalf("building the previous release made no %s and %s", p.hostpush, p.imageserver)
	}
	return p, true
}

// debArch is the Debian architecture the packages are built for.
func debArch() string {
	out, err := exec.Command("dpkg", "--print-architecture").Output()
	if err != nil {
		return "amd64"
	}
	return strings.TrimSpace(string(out))
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// debVersion is the package version of a binary version: a pre-release
// (0.2.0-dev) becomes 0.2.0~dev, as packaging/build-deb.sh names it.
func debVersion(v string) string { return strings.Replace(v, "-", "~", 1) }
