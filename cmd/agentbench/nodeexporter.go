package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

const nodeExporterModule = "github.com/prometheus/node_exporter"

// nodeExporterBinary returns a node_exporter built from the Go module cache
// at the version go.mod requires, building it once into the user cache dir
// (keyed by version) when it is not there yet.
func nodeExporterBinary(ctx context.Context, root string, log io.Writer) (path, version string, err error) {
	out, err := goCmd(ctx, root, "list", "-m", "-f", "{{.Version}}", nodeExporterModule).Output()
	if err != nil {
		return "", "", fmt.Errorf("finding the node_exporter version in go.mod: %w", cmdErr(err))
	}
	version = strings.TrimSpace(string(out))
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", "", fmt.Errorf("finding the user cache dir for node_exporter: %w", err)
	}
	dir := filepath.Join(cache, "hostpush", "agentbench", "node_exporter-"+version)
	path = filepath.Join(dir, "node_exporter")
	if _, err := os.Stat(path); err == nil {
		return path, version, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", fmt.Errorf("creating %s: %w", dir, err)
	}
	fmt.Fprintf(log, "agentbench: building node_exporter %s from the module cache into %s\n", version, path)
	tmp := path + ".tmp"
	// Built like a release (static, stripped), so the RSS compares fairly
	// with the static, stripped bin/hostpush.
	cmd := goCmd(ctx, root, "build", "-trimpath", "-ldflags", "-s -w", "-o", tmp, nodeExporterModule)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Run(); err != nil {
		return "", "", fmt.Errorf("building node_exporter %s: %w", version, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", "", fmt.Errorf("installing node_exporter into the cache: %w", err)
	}
	return path, version, nil
}

func goCmd(ctx context.Context, dir string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	return cmd
}

// cmdErr adds a command's stderr to its error.
func cmdErr(err error) error {
	if ee, ok := err.(*exec.ExitError); ok && len(ee.Stderr) > 0 {
		return fmt.Errorf("%w: %s", err, strings.TrimSpace(string(ee.Stderr)))
	}
	return err
}
