package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/davidbyttow/govips/v2/vips"
	"github.com/prometheus/common/version"

	"github.com/hostpush/hostpush/imageserver/pipeline"
	"github.com/hostpush/hostpush/imageserver/testimages"
	"github.com/hostpush/hostpush/internal/cli"
	"github.com/hostpush/hostpush/internal/procs"
)

// TestNoNodeExporter: the image server must not link node_exporter (its
// global flags would show up in --help, and it does not belong here).
func TestNoNodeExporter(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".", "../../imageserver/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	if !bytes.Contains(out, []byte("github.com/davidbyttow/govips")) {
		t.Fatal("go list output does not look like imageserver's dependencies")
	}
	if bytes.Contains(out, []byte("github.com/prometheus/node_exporter")) {
		t.Fatal("imageserver depends on github.com/prometheus/node_exporter")
	}
}

func runCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// TestConfigErrors: each bad configuration exits 2 with one line naming it.
func TestConfigErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	unknown := write("unknown.yml", "images:\n  dir: /tmp\n  colour: red\n")
	badType := write("type.yml", "workers: many\n")
	badSize := write("size.yml", "cache:\n  size: lots\n")
	badQueue := write("queue.yml", "images:\n  dir: "+dir+"\nqueue:\n  size: -1\n")
	empty := write("token", "\n")
	badWeb := write("web.yml", "basic_auth_users:\n  alice: plaintext\n")
	webNoListener := write("webonly.yml", "images:\n  dir: "+dir+"\nweb:\n  config_file: "+badWeb+"\n")
	cases := []struct {
		args []string
		want string
	}{
		{[]string{}, "imageserver: images.dir: must be set"},
		{[]string{"--images.dir=" + dir, "--workers=0"}, "imageserver: workers: must be at least 1, got 0"},
		{[]string{"--images.dir=" + dir, "--cache.size=lots"}, "--cache.size: \"lots\" is not a size"},
		{[]string{"--images.dir=" + dir, "--images.prefix=assets"}, "imageserver: images.prefix: \"assets\" must start with /"},
		{[]string{"--images.dir=" + dir, "--queue.timeout=0s"}, "imageserver: queue.timeout: must be positive"},
		{[]string{"--images.dir=" + dir, "--limits.max-source-pixels=0"}, "imageserver: limits.max_source_pixels: must be at least 1"},
		{[]string{"--images.dir=" + dir, "--limits.max-output-pixels=0"}, "imageserver: limits.max_output_pixels: must be at least 1"},
		{[]string{"--images.dir=" + dir, "--avif.workers=0"}, "imageserver: avif.workers: must be at least 1"},
		{[]string{"--images.dir=" + dir, "--limits.max-avif-output-pixels=0"}, "imageserver: limits.max_avif_output_pixels: must be at least 1"},
		{[]string{"--images.dir=" + dir, "--avif.transform-timeout=0s"}, "imageserver: avif.transform_timeout: must be positive"},
		{[]string{"--images.dir=" + filepath.Join(dir, "nope")}, "opening images dir"},
		{[]string{"--config.file=" + unknown}, unknown + `:3: unknown key "colour" in images (allowed: dir, prefix)`},
		{[]string{"--config.file=" + badType}, badType + `:1: "many" is not a valid integer`},
		{[]string{"--config.file=" + badSize}, badSize + `:2: "lots" is not a size`},
		{[]string{"--config.file=" + badQueue}, badQueue + ":4: queue.size: must be 0 or more, got -1"},
		{[]string{"--config.file=" + badQueue, "--queue.size=-2"}, "imageserver: queue.size: must be 0 or more, got -2"},
		{[]string{"--config.file=" + filepath.Join(dir, "missing.yml")}, "reading config file"},
		{[]string{"--images.dir=" + dir, "--sign.token-file=" + empty}, "imageserver: sign.token_file: " + empty + " is empty"},
		{[]string{"--images.dir=" + dir, "--sign.token-file=" + filepath.Join(dir, "none")}, "imageserver: sign.token_file: reading the token"},
		{[]string{"--images.dir=" + dir, "--web.config.file=" + badWeb}, "imageserver: web.config_file: needs web.metrics_listen_address"},
		{[]string{"--config.file=" + webNoListener}, webNoListener + ":4: web.config_file: needs web.metrics_listen_address"},
		{[]string{"--images.dir=" + dir, "--web.metrics-listen-address=127.0.0.1:0", "--web.config.file=" + badWeb},
			"imageserver: " + badWeb + ":2: basic_auth_users.alice: the password is not a bcrypt hash"},
		{[]string{"--images.dir=" + dir, "--web.metrics-listen-address=127.0.0.1:0", "--web.config.file=" + filepath.Join(dir, "none.yml")},
			"imageserver: reading the web config file: open " + filepath.Join(dir, "none.yml")},
		{[]string{"--no-such-flag"}, "unknown long flag '--no-such-flag'"},
		{[]string{"--images.dir=" + dir, "--queue.timeout=soon"}, `imageserver: --queue.timeout: invalid value "soon"`},
		{[]string{"--images.dir=" + dir, "--log.level=loud"}, "unrecognized log level loud"},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			code, _, stderr := runCmd(t, c.args...)
			if code != cli.ExitConfig {
				t.Errorf("exit %d, want %d (stderr %q)", code, cli.ExitConfig, stderr)
			}
			if !strings.Contains(stderr, c.want) || strings.Count(stderr, "\n") != 1 || !strings.HasPrefix(stderr, "imageserver: ") {
				t.Errorf("stderr %q, want one line containing %q", stderr, c.want)
			}
		})
	}
	// several problems: each on its own line, placed where it comes from
	code, _, stderr := runCmd(t, "--config.file="+badQueue, "--workers=0", "--cache.size=1x")
	want := "imageserver: --cache.size: \"1x\" is not a size; allowed: bytes as an integer or with a unit such as 512KiB, 64MiB, 1GiB\n" +
		"imageserver: workers: must be at least 1, got 0\n" +
		"imageserver: " + badQueue + ":4: queue.size: must be 0 or more, got -1\n"
	if code != cli.ExitConfig || stderr != want {
		t.Errorf("exit %d, stderr\n%s\nwant\n%s", code, stderr, want)
	}
}

func TestVersionAndHelp(t *testing.T) {
	code, out, _ := runCmd(t, "--version")
	if code != 0 || !strings.Contains(out, "imageserver, version") || !strings.Contains(out, runtime.Version()) {
		t.Errorf("--version: %d %q", code, out)
	}
	code, out, _ = runCmd(t, "--help")
	for _, flag := range []string{"--web.listen-address=\":3002\"", "--images.dir", "--images.prefix=\"/assets/images\"", "--cache.size=\"256MiB\"",
		"--workers", "--queue.timeout=600ms", "--sign.token-file", "--limits.max-source-pixels=50000000", "--config.file", "--log.level", "--log.format",
		"--limits.max-output-pixels=8388608", "--limits.max-avif-output-pixels=2097152", "--avif.workers=1", "--avif.queue-size=4", "--avif.queue-timeout=1s", "--avif.transform-timeout=5s", "--[no-]avif.auto-format"} {
		if !strings.Contains(out, flag) {
			t.Errorf("--help lacks %s", flag)
		}
	}
	if code != 0 || strings.Contains(out, "collector.") {
		t.Errorf("--help: exit %d, or shows node_exporter flags", code)
	}
}

// TestServeNotifyShutdown runs the real command: a config file with flags
// overriding it, READY=1 to a notify socket once it answers, an image
// served, STOPPING=1 and a clean exit on cancellation.
func TestServeNotifyShutdown(t *testing.T) {
	dir := t.TempDir()
	imgs := imageDir(t, dir, "gophers.jpg", testimages.JPEG(testimages.Gradient(640, 480)))
	addr := freeAddr(t)
	cfg := filepath.Join(dir, "c.yml")
	body := fmt.Sprintf("web:\n  listen_address: %q\nimages:\n  dir: %q\n  prefix: /wrong\ncache:\n  size: 1MiB\n  max_age: 1h\nqueue:\n  timeout: 2s\n", addr, imgs)
	if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	t.Setenv("NOTIFY_SOCKET", sock)
	var mu sync.Mutex
	var states []string
	go func() {
		buf := make([]byte, 256)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			mu.Lock()
			states = append(states, string(buf[:n]))
			mu.Unlock()
		}
	}()
	stop := startServer(t, "--config.file="+cfg, "--images.prefix=/assets/images", "--log.level=warn")
	waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(states) > 0 })
	mu.Lock()
	if states[0] != "READY=1" {
		t.Errorf("first notification %q, want READY=1", states[0])
	}
	mu.Unlock()
	resp, err := http.Get("http://" + addr + "/assets/images/gophers.jpg?fit=crop&w=100&h=100&crop=center&blur=4")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != "public, max-age=3600" {
		t.Errorf("image: %d, Cache-Control %q", resp.StatusCode, resp.Header.Get("Cache-Control"))
	}
	checkBuildInfo(t, "http://"+addr+"/metrics")
	stop()
	waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(states) >= 2 })
	mu.Lock()
	defer mu.Unlock()
	if states[len(states)-1] != "STOPPING=1" {
		t.Errorf("notifications %q, want STOPPING=1 last", states)
	}
}

// checkBuildInfo: imageserver_build_info carries prometheus/common/version's
// labels, and --version says the same.
func checkBuildInfo(t *testing.T, url string) {
	t.Helper()
	fams, err := procs.Scrape(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	f := fams["imageserver_build_info"]
	if f == nil || len(f.GetMetric()) != 1 || f.GetMetric()[0].GetGauge().GetValue() != 1 {
		t.Fatalf("imageserver_build_info: %v", f)
	}
	labels := map[string]string{}
	for _, l := range f.GetMetric()[0].GetLabel() {
		labels[l.GetName()] = l.GetValue()
	}
	want := map[string]string{"version": version.Version, "revision": version.GetRevision(), "branch": version.Branch,
		"goversion": runtime.Version(), "goos": runtime.GOOS, "goarch": runtime.GOARCH, "tags": version.GetTags()}
	if !maps.Equal(labels, want) || labels["version"] == "" {
		t.Errorf("imageserver_build_info labels %v, want %v", labels, want)
	}
	_, out, _ := runCmd(t, "--version")
	if first := fmt.Sprintf("imageserver, version %s (branch: %s, revision: %s)\n", want["version"], want["branch"], want["revision"]); !strings.HasPrefix(out, first) {
		t.Errorf("--version %q, want it to start %q", out, first)
	}
}

// TestBinaryOverload builds the real binary and sends it far more distinct
// transforms than it can do at once: only 200 and 503 come back, and its
// peak RSS stays bounded.
func TestBinaryOverload(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and loads the binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "imageserver")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	// with an ICC profile, so that the first transforms of the fresh process
	// race for govips' profile file (once answered 422 "corrupt profile")
	imgs := imageDir(t, dir, "big.jpg", withICC(t, testimages.JPEG(testimages.Gradient(3000, 2000))))
	addr := freeAddr(t)
	cmd := exec.Command(bin, "--images.dir="+imgs, "--web.listen-address="+addr, "--workers=2", "--queue.size=4", "--queue.timeout=300ms", "--log.level=warn")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() })
	waitFor(t, func() bool {
		r, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			r.Body.Close()
		}
		return err == nil && r.StatusCode == 200
	})
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	for i := 0; i < 120; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code := -1
			r, err := http.Get(fmt.Sprintf("http://%s/assets/images/big.jpg?fit=crop&w=%d&h=1024&blur=4", addr, 900+i))
			if err == nil {
				_, _ = io.Copy(io.Discard, r.Body)
				r.Body.Close()
				code = r.StatusCode
			}
			mu.Lock()
			codes[code]++
			mu.Unlock()
		}()
		time.Sleep(5 * time.Millisecond)
	}
	wg.Wait()
	if codes[200] == 0 || codes[503] == 0 || codes[200]+codes[503] != 120 {
		t.Errorf("codes %v, want only 200 and 503, some of each", codes)
	}
	hwm := peakRSS(t, cmd.Process.Pid)
	t.Logf("codes %v, peak RSS %.0f MB", codes, float64(hwm)/1e6)
	if hwm > 400e6 {
		t.Errorf("peak RSS %.0f MB, want at most 400 MB", float64(hwm)/1e6)
	}
}

// imageDir makes dir/img holding one image and returns its path.
func imageDir(t *testing.T, dir, name string, image []byte) string {
	t.Helper()
	imgs := filepath.Join(dir, "img")
	if err := os.MkdirAll(imgs, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(imgs, name), image, 0o644); err != nil {
		t.Fatal(err)
	}
	return imgs
}

// withICC returns the JPEG with an sRGB ICC profile embedded.
func withICC(t *testing.T, jpg []byte) []byte {
	t.Helper()
	if err := pipeline.Startup(slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		t.Fatal(err)
	}
	img, err := vips.NewImageFromBuffer(jpg)
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	path, err := vips.GetSRGBIEC6196621ICCProfilePath()
	if err != nil {
		t.Fatal(err)
	}
	if err := img.TransformICCProfile(path); err != nil {
		t.Fatal(err)
	}
	out, _, err := img.ExportJpeg(&vips.JpegExportParams{Quality: 90})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(out, []byte("ICC_PROFILE")) {
		t.Fatal("the test image did not get an ICC profile")
	}
	return out
}

func peakRSS(t *testing.T, pid int) int64 {
	u, err := procs.ReadUsage(pid)
	if err != nil {
		t.Fatal(err)
	}
	return u.PeakRSS
}

func freeAddr(t *testing.T) string {
	addr, err := procs.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

func waitFor(t *testing.T, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 20 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
