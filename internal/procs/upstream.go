package procs

// The servers our deploy/ stack and Debian 13 ship that Debian 12 does not
// package: Prometheus 3, built from its Go module, and Pushgateway 1.11,
// taken from Debian 13's archive. Each is made once per version and kept
// in the user cache directory, as the node_exporter reference build is.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"
)

const (
	// Prometheus3Version is the Prometheus 3 the tests run: the one
	// deploy/docker-compose.yml ships (prom/prometheus:v3.16.0).
	Prometheus3Version = "3.16.0"
	// prometheus3Module is its Go module; the module numbers 3.x.y as
	// v0.30x.y.
	prometheus3Module  = "github.com/prometheus/prometheus"
	prometheus3ModVers = "v0.316.0"
	// prometheus3Tags leave out every service discovery mechanism: the
	// tests use static targets only, and the cloud SDKs are most of the
	// build (cold, 3.16: 203 CPU-seconds with the tag, 546 without).
	prometheus3Tags = "remove_all_sd"

	// Pushgateway111Version is Debian 13's prometheus-pushgateway, the
	// release deploy/ ships (1.11.x).
	Pushgateway111Version = "1.11.0"
	// The .deb in Debian's pool and its SHA256, as trixie's Packages index
	// (signed through its InRelease) lists them. When trixie replaces the
	// package, the download fails with a 404: pin the new Filename and
	// SHA256 from `apt-cache show prometheus-pushgateway` on trixie.
	pushgateway111Deb    = "pool/main/p/prometheus-pushgateway/prometheus-pushgateway_1.11.0-1+b6_amd64.deb"
	pushgateway111SHA256 = "5f02a4a82f2584e3948f221c122823cffff4e8c4b632c18289253a592dba8e6b"
	// DebianMirrorEnv overrides the Debian archive the .deb comes from.
	DebianMirrorEnv     = "HOSTPUSH_DEBIAN_MIRROR"
	defaultDebianMirror = "http://deb.debian.org/debian"

	// buildTimeout bounds the Prometheus build; cold it took 200 s here.
	buildTimeout = 12 * time.Minute
	// buildNice is the build's scheduling niceness.
	buildNice = 10
)

// Prometheus3 returns the path of Prometheus Prometheus3Version, building it
// on first use from its Go module outside this module's go.mod (a temporary
// module with upstream's replace directives, its own build cache, removed
// afterwards). logf, if not nil, is told when a build starts. Concurrent
// callers, also in other test processes, wait for one build.
func Prometheus3(ctx context.Context, logf func(format string, args ...any)) (string, error) {
	dir := "prometheus-" + Prometheus3Version + "-" + runtime.GOOS + "-" + runtime.GOARCH
	return cached(ctx, dir, "prometheus", func(tmp, bin string) error {
		if logf != nil {
			logf("building Prometheus %s from %s@%s into the user cache (a few minutes, once)", Prometheus3Version, prometheus3Module, prometheus3ModVers)
		}
		return buildPrometheus(ctx, tmp, bin)
	})
}

// Pushgateway111 returns the path of Debian 13's prometheus-pushgateway
// Pushgateway111Version binary (it runs on Debian 12 too), downloading the
// .deb from the Debian archive, checking its SHA256 and extracting it with
// dpkg-deb on first use.
func Pushgateway111(ctx context.Context) (string, error) {
	if runtime.GOARCH != "amd64" {
		return "", fmt.Errorf("pushgateway %s: only the amd64 .deb is pinned, this is %s", Pushgateway111Version, runtime.GOARCH)
	}
	return cached(ctx, "pushgateway-"+Pushgateway111Version+"-amd64", "prometheus-pushgateway", func(tmp, bin string) error {
		return fetchPushgateway(ctx, tmp, bin)
	})
}

// StartPrometheus3 runs Prometheus3 on addr with the given config, its TSDB
// in dataDir and extra flags, and waits until it is ready.
func StartPrometheus3(ctx context.Context, addr, configFile, dataDir string, out io.Writer, extra ...string) (*Proc, error) {
	bin, err := Prometheus3(ctx, nil)
	if err != nil {
		return nil, err
	}
	args := append([]string{
		"--config.file=" + configFile,
		"--storage.tsdb.path=" + dataDir,
		"--web.listen-address=" + addr,
	}, extra...)
	p, err := Start("prometheus", bin, args, out)
	if err != nil {
		return nil, err
	}
	return p, waitReady(ctx, p, "http://"+addr+"/-/ready")
}

// StartPushgateway111 runs Pushgateway111 on addr with persistence off and
// waits until it is ready.
func StartPushgateway111(ctx context.Context, addr string, out io.Writer) (*Proc, error) {
	bin, err := Pushgateway111(ctx)
	if err != nil {
		return nil, err
	}
	p, err := Start("pushgateway", bin, []string{"--web.listen-address=" + addr, "--persistence.file="}, out)
	if err != nil {
		return nil, err
	}
	return p, waitReady(ctx, p, "http://"+addr+"/-/ready")
}

// cached returns <user cache>/hostpush/<dir>/<name>, calling create(tmp, bin)
// to create bin first if it is missing; tmp is a scratch directory removed
// afterwards. A lock file serializes makers across processes.
func cached(ctx context.Context, dir, name string, create func(tmp, bin string) error) (string, error) {
	root, err := os.UserCacheDir()
	if err != nil {
		root = os.TempDir()
	}
	dir = filepath.Join(root, "hostpush", dir)
	bin := filepath.Join(dir, name)
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	unlock, err := lockFile(ctx, filepath.Join(dir, ".lock"))
	if err != nil {
		return "", fmt.Errorf("waiting for another process making %s: %w", bin, err)
	}
	defer unlock()
	if _, err := os.Stat(bin); err == nil {
		return bin, nil // made while we waited
	}
	// A maker killed mid-way (a test timeout) leaves its scratch directory,
	// with a build cache of a gigabyte or more; with the lock held no
	// other maker is running.
	if old, err := filepath.Glob(filepath.Join(dir, "make-*")); err == nil {
		for _, o := range old {
			os.RemoveAll(o)
		}
	}
	tmp, err := os.MkdirTemp(dir, "make-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	if err := create(tmp, filepath.Join(tmp, name)); err != nil {
		return "", err
	}
	if err := os.Rename(filepath.Join(tmp, name), bin); err != nil {
		return "", err
	}
	return bin, nil
}

// lockFile takes an exclusive flock on path, polling so that ctx can end
// the wait.
func lockFile(ctx context.Context, path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil // closing releases the lock
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, err
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// buildPrometheus builds cmd/prometheus in a temporary module that requires
// Prometheus' module and repeats its replace directives (which `go install
// pkg@version` refuses), with a private build cache, static and stripped.
func buildPrometheus(ctx context.Context, tmp, bin string) error {
	ctx, cancel := context.WithTimeout(ctx, buildTimeout)
	defer cancel()
	mod := filepath.Join(tmp, "mod")
	if err := os.Mkdir(mod, 0o755); err != nil {
		return err
	}
	env := append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off", "CGO_ENABLED=0", "GOTOOLCHAIN=local",
		"GOCACHE="+filepath.Join(tmp, "gocache"))
	goCmd := func(args ...string) ([]byte, error) {
		cmd := exec.CommandContext(ctx, "go", args...)
		cmd.Dir, cmd.Env = mod, env
		// The go command's own children (compile, link) stop with it.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Start()
		if err == nil {
			// Niced, with the compilers it starts: the tests running
			// beside the build keep their timing.
			_ = syscall.Setpriority(syscall.PRIO_PROCESS, cmd.Process.Pid, buildNice)
			err = cmd.Wait()
		}
		if err != nil {
			return out.Bytes(), fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, tailLines(out.String(), 20))
		}
		return out.Bytes(), nil
	}
	upstream := prometheus3Module + "@" + prometheus3ModVers
	if _, err := goCmd("mod", "init", "hostpush.invalid/prometheus-build"); err != nil {
		return err
	}
	edits := []string{"mod", "edit", "-require=" + upstream}
	replaces, err := upstreamReplaces(goCmd, upstream)
	if err != nil {
		return err
	}
	for _, r := range replaces {
		edits = append(edits, "-replace="+r)
	}
	if _, err := goCmd(edits...); err != nil {
		return err
	}
	ldflags := "-s -w -X github.com/prometheus/common/version.Version=" + Prometheus3Version
	_, err = goCmd("build", "-trimpath", "-tags="+prometheus3Tags, "-ldflags="+ldflags, "-o", bin, prometheus3Module+"/cmd/prometheus")
	return err
}

// upstreamReplaces reads the replace directives of module@version's go.mod
// as old[@v]=new[@v] arguments for go mod edit.
func upstreamReplaces(goCmd func(...string) ([]byte, error), upstream string) ([]string, error) {
	out, err := goCmd("mod", "download", "-json", upstream)
	if err != nil {
		return nil, err
	}
	var info struct{ GoMod, Error string }
	if err := json.Unmarshal(out, &info); err != nil || info.GoMod == "" {
		return nil, fmt.Errorf("go mod download %s: %v %s", upstream, err, info.Error)
	}
	out, err = goCmd("mod", "edit", "-json", info.GoMod)
	if err != nil {
		return nil, err
	}
	type modVer struct{ Path, Version string }
	var gomod struct{ Replace []struct{ Old, New modVer } }
	if err := json.Unmarshal(out, &gomod); err != nil {
		return nil, fmt.Errorf("reading %s: %w", info.GoMod, err)
	}
	at := func(m modVer) string {
		if m.Version == "" {
			return m.Path
		}
		return m.Path + "@" + m.Version
	}
	var args []string
	for _, r := range gomod.Replace {
		if r.New.Version == "" {
			return nil, fmt.Errorf("%s replaces %s with the local directory %s, which a build outside its repository cannot use", upstream, r.Old.Path, r.New.Path)
		}
		args = append(args, at(r.Old)+"="+at(r.New))
	}
	return args, nil
}

// fetchPushgateway downloads the pinned .deb, checks its SHA256 and
// extracts the binary to bin.
func fetchPushgateway(ctx context.Context, tmp, bin string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	mirror := strings.TrimRight(os.Getenv(DebianMirrorEnv), "/")
	if mirror == "" {
		mirror = defaultDebianMirror
	}
	url := mirror + "/" + pushgateway111Deb
	deb := filepath.Join(tmp, "pushgateway.deb")
	if err := download(ctx, url, deb, pushgateway111SHA256); err != nil {
		return err
	}
	root := filepath.Join(tmp, "root")
	cmd := exec.CommandContext(ctx, "dpkg-deb", "-x", deb, root)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("dpkg-deb -x %s: %w\n%s", url, err, out)
	}
	return os.Rename(filepath.Join(root, "usr", "bin", "prometheus-pushgateway"), bin)
}

// download GETs url into path and fails unless its SHA256 is want.
func download(ctx context.Context, url, path, want string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("downloading %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("downloading %s: %s (if the archive replaced the package, pin the new one in internal/procs/upstream.go)", url, resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(f, h), resp.Body); err != nil {
		return fmt.Errorf("downloading %s: %w", url, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		return fmt.Errorf("downloading %s: SHA256 %s, want the pinned %s", url, got, want)
	}
	return f.Close()
}

func tailLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
