package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/hostpush/hostpush/imageserver"
	"github.com/hostpush/hostpush/imageserver/admission"
)

// TestOutputFlags: the output limit and AVIF flags win over the file,
// and the defaults apply without either.
func TestOutputFlags(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "c.yml")
	body := "images:\n  dir: " + dir + "\nlimits:\n  max_output_pixels: 100\navif:\n  workers: 3\n  auto_format: true\n"
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := parseConfig(t, "--config.file="+p, "--limits.max-output-pixels=200", "--no-avif.auto-format", "--avif.queue-timeout=3s")
	if cfg.Pipeline.MaxOutputPixels != 200 || cfg.AVIF.Admission.Workers != 3 || cfg.AVIF.AutoFormat || cfg.AVIF.Admission.Timeout != 3*time.Second {
		t.Errorf("flags over file: %+v %+v", cfg.Pipeline, cfg.AVIF)
	}
	def := imageserver.DefaultConfig(2)
	cfg = parseConfig(t, "--images.dir="+dir)
	if cfg.Pipeline.MaxOutputPixels != def.Pipeline.MaxOutputPixels || cfg.AVIF != def.AVIF {
		t.Errorf("defaults: %+v %+v", cfg.Pipeline, cfg.AVIF)
	}
}

func parseConfig(t *testing.T, args ...string) imageserver.Config {
	t.Helper()
	app := kingpin.New("imageserver", "")
	f := defineFlags(app, imageserver.DefaultConfig(2))
	if _, err := app.Parse(args); err != nil {
		t.Fatal(err)
	}
	cfg, _, err := f.config()
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestLoadFileApplies(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c.yml")
	body := `web:
  listen_address: 127.0.0.1:9999
images:
  dir: /srv/img
  prefix: /img
cache:
  size: 64MiB
  max_age: 1h
workers: 3
queue:
  timeout: 250ms
sign:
  token_file: /etc/token
limits:
  max_source_pixels: 1000
  max_source_bytes: 1MiB
  transform_timeout: 3s
  max_output_pixels: 4000000
  max_avif_output_pixels: 1000000
avif:
  workers: 2
  queue_size: 3
  queue_timeout: 2s
  transform_timeout: 4s
  auto_format: true
`
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	fc, err := loadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	cfg := imageserver.DefaultConfig(2)
	listen, token := ":3002", ""
	fc.apply(&cfg, &listen, &token)
	if listen != "127.0.0.1:9999" || token != "/etc/token" || cfg.ImagesDir != "/srv/img" || cfg.Prefix != "/img" ||
		cfg.CacheSize != 64<<20 || cfg.MaxAge != time.Hour || cfg.Admission.Workers != 3 || cfg.Admission.QueueSize != 24 ||
		cfg.Admission.Timeout != 250*time.Millisecond || cfg.Pipeline.MaxSourcePixels != 1000 || cfg.MaxSourceBytes != 1<<20 ||
		cfg.TransformTimeout != 3*time.Second || cfg.Pipeline.MaxOutputPixels != 4_000_000 || cfg.Pipeline.MaxAVIFOutputPixels != 1_000_000 ||
		cfg.AVIF.Admission != (admission.Config{Workers: 2, QueueSize: 3, Timeout: 2 * time.Second}) || cfg.AVIF.Timeout != 4*time.Second || !cfg.AVIF.AutoFormat {
		t.Errorf("applied config %+v, listen %s, token %s", cfg, listen, token)
	}
}

// FuzzLoadFile: any file content loads or fails with one error; no panic.
func FuzzLoadFile(f *testing.F) {
	f.Add("images:\n  dir: /x\n")
	f.Add("cache:\n  size: 12XB\n")
	f.Add("workers: [1, 2]\nqueue: {timeout: 1s, size: -1}\n")
	f.Add("web: \n  listen_address: 1\nnope: 2\n")
	f.Add("")
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, body string) {
		p := filepath.Join(dir, "c.yml")
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		fc, err := loadFile(p)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "config file ") {
				t.Fatalf("error %q does not name the file", err)
			}
			return
		}
		cfg := imageserver.DefaultConfig(2)
		var listen, token string
		fc.apply(&cfg, &listen, &token)
		_ = cfg.Validate()
	})
}

// TestFlagsOverFile: a flag given wins over the file, one not given leaves
// the file's value, and --workers sizes the queue unless the file did.
func TestFlagsOverFile(t *testing.T) {
	dir := t.TempDir()
	parse := func(file string, args ...string) imageserver.Config {
		t.Helper()
		app := kingpin.New("t", "")
		f := defineFlags(app, imageserver.DefaultConfig(2))
		if file != "" {
			p := filepath.Join(dir, "c.yml")
			if err := os.WriteFile(p, []byte(file), 0o644); err != nil {
				t.Fatal(err)
			}
			args = append(args, "--config.file="+p)
		}
		if _, err := app.Parse(append(args, "--images.dir="+dir)); err != nil {
			t.Fatal(err)
		}
		cfg, _, err := f.config()
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	if c := parse("", "--workers=3"); c.Admission.QueueSize != 24 {
		t.Errorf("--workers=3: queue size %d, want 24", c.Admission.QueueSize)
	}
	if c := parse("queue: {size: 5}\ncache: {max_age: 1h}\n", "--workers=3"); c.Admission.QueueSize != 5 || c.MaxAge != time.Hour {
		t.Errorf("file queue.size 5 and --workers=3: queue size %d, max age %s; want 5 and the file's 1h", c.Admission.QueueSize, c.MaxAge)
	}
	if c := parse("queue: {size: 5}\n", "--queue.size=7", "--cache.size=1MiB"); c.Admission.QueueSize != 7 || c.CacheSize != 1<<20 {
		t.Errorf("flags over file: queue size %d, cache %d; want 7 and 1MiB", c.Admission.QueueSize, c.CacheSize)
	}
}
