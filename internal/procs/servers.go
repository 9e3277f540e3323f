package procs

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// StartTimeout bounds how long a server may take to answer after start.
const StartTimeout = 30 * time.Second

// StartPushgateway runs Debian's prometheus-pushgateway on addr with
// persistence off (Debian's default file would share groups across runs)
// and waits until it is ready.
func StartPushgateway(ctx context.Context, addr string, out io.Writer) (*Proc, error) {
	bin, err := LookPath("prometheus-pushgateway", "prometheus-pushgateway")
	if err != nil {
		return nil, err
	}
	p, err := Start("pushgateway", bin, []string{"--web.listen-address=" + addr, "--persistence.file="}, out)
	if err != nil {
		return nil, err
	}
	return p, waitReady(ctx, p, "http://"+addr+"/-/ready")
}

// StartPrometheus runs Debian's prometheus on addr with the given config
// and its TSDB in dataDir, and waits until it is ready.
func StartPrometheus(ctx context.Context, addr, configFile, dataDir string, out io.Writer) (*Proc, error) {
	bin, err := LookPath("prometheus", "prometheus")
	if err != nil {
		return nil, err
	}
	p, err := Start("prometheus", bin, []string{
		"--config.file=" + configFile,
		"--storage.tsdb.path=" + dataDir,
		"--web.listen-address=" + addr,
		// Debian's default console paths point at /etc/prometheus; keep the
		// stack self-contained.
		"--web.console.templates=" + dataDir,
		"--web.console.libraries=" + dataDir,
	}, out)
	if err != nil {
		return nil, err
	}
	return p, waitReady(ctx, p, "http://"+addr+"/-/ready")
}

// StartImageServer runs bin/imageserver (path bin) on addr serving dir.
func StartImageServer(ctx context.Context, bin, addr, dir string, extra []string, out io.Writer) (*Proc, error) {
	args := append([]string{"--web.listen-address=" + addr, "--images.dir=" + dir}, extra...)
	p, err := Start("imageserver", bin, args, out)
	if err != nil {
		return nil, err
	}
	return p, waitReady(ctx, p, "http://"+addr+"/healthz")
}

func waitReady(ctx context.Context, p *Proc, url string) error {
	ctx, cancel := context.WithTimeout(ctx, StartTimeout)
	defer cancel()
	if err := WaitHTTP(ctx, p, url); err != nil {
		_ = p.Stop(5 * time.Second)
		return fmt.Errorf("%s not ready: %w", p.Name, err)
	}
	return nil
}

// SampleImageModule is the Go module that ships the 12 MP sample photo
// (iPhone XS, 4032x3024, EXIF orientation 6, Display P3 ICC profile). It is
// fetched through the go command at run time and never committed.
const SampleImageModule = "github.com/h2non/bimg@v1.1.9"

// SampleImagePath downloads the sample photo's module through the Go module
// proxy if needed and returns the photo's path in the module cache.
func SampleImagePath(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "mod", "download", "-json", SampleImageModule).Output()
	if err != nil {
		return "", fmt.Errorf("downloading %s for the sample image: %w", SampleImageModule, err)
	}
	var mod struct{ Dir, Error string }
	if err := json.Unmarshal(out, &mod); err != nil {
		return "", fmt.Errorf("reading go mod download output: %w", err)
	}
	if mod.Error != "" || mod.Dir == "" {
		return "", fmt.Errorf("downloading %s: %s", SampleImageModule, mod.Error)
	}
	return filepath.Join(mod.Dir, "testdata", "test_exif_full.jpg"), nil
}

// SampleImage copies the sample photo (see SampleImagePath) into dir as
// name.
func SampleImage(ctx context.Context, dir, name string) error {
	path, err := SampleImagePath(ctx)
	if err != nil {
		return err
	}
	src, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading the sample image: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), src, 0o644); err != nil {
		return fmt.Errorf("writing the sample image: %w", err)
	}
	return nil
}
