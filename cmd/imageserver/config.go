package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/alecthomas/units"
	"gopkg.in/yaml.v3"

	"github.com/hostpush/hostpush/imageserver"
)

// fileConfig is the YAML configuration file. Every key is optional; flags
// given on the command line win over the file.
type fileConfig struct {
	Web struct {
		ListenAddress *string `yaml:"listen_address"`
	} `yaml:"web"`
	Images struct {
		Dir    *string `yaml:"dir"`
		Prefix *string `yaml:"prefix"`
	} `yaml:"images"`
	Cache struct {
		Size   *byteSize      `yaml:"size"`
		MaxAge *time.Duration `yaml:"max_age"`
	} `yaml:"cache"`
	Workers *int `yaml:"workers"`
	Queue   struct {
		Timeout *time.Duration `yaml:"timeout"`
		Size    *int           `yaml:"size"`
	} `yaml:"queue"`
	Sign struct {
		TokenFile *string `yaml:"token_file"`
	} `yaml:"sign"`
	Limits struct {
		MaxSourcePixels  *int64         `yaml:"max_source_pixels"`
		MaxSourceBytes   *byteSize      `yaml:"max_source_bytes"`
		TransformTimeout *time.Duration `yaml:"transform_timeout"`
		MaxOutputPixels  *int64         `yaml:"max_output_pixels"`
		MaxAVIFPixels    *int64         `yaml:"max_avif_output_pixels"`
	} `yaml:"limits"`
	AVIF avifFile `yaml:"avif"`
}

// byteSize reads sizes such as 256MiB or a plain number of bytes.
type byteSize int64

func (b *byteSize) UnmarshalYAML(n *yaml.Node) error {
	v, err := parseBytes(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*b = byteSize(v)
	return nil
}

func parseBytes(s string) (int64, error) {
	v, err := units.ParseBase2Bytes(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a size; use bytes or a unit such as 64MiB", s)
	}
	return int64(v), nil
}

// loadFile reads a configuration file strictly: unknown keys are errors
// naming the key and its line.
func loadFile(path string) (*fileConfig, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading config file: %w", err)
	}
	var fc fileConfig
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&fc); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("config file %s: %s", path, strings.ReplaceAll(strings.TrimPrefix(err.Error(), "yaml: "), "\n ", ""))
	}
	return &fc, nil
}

// apply copies the keys set in the file into cfg.
func (fc *fileConfig) apply(cfg *imageserver.Config, listen, tokenFile *string) {
	set(listen, fc.Web.ListenAddress)
	set(&cfg.ImagesDir, fc.Images.Dir)
	set(&cfg.Prefix, fc.Images.Prefix)
	if fc.Cache.Size != nil {
		cfg.CacheSize = int64(*fc.Cache.Size)
	}
	set(&cfg.MaxAge, fc.Cache.MaxAge)
	if fc.Workers != nil {
		cfg.Admission.Workers = *fc.Workers
		cfg.Admission.QueueSize = imageserver.QueueSize(*fc.Workers)
	}
	set(&cfg.Admission.Timeout, fc.Queue.Timeout)
	set(&cfg.Admission.QueueSize, fc.Queue.Size)
	set(tokenFile, fc.Sign.TokenFile)
	set(&cfg.Pipeline.MaxSourcePixels, fc.Limits.MaxSourcePixels)
	if fc.Limits.MaxSourceBytes != nil {
		cfg.MaxSourceBytes = int64(*fc.Limits.MaxSourceBytes)
	}
	set(&cfg.TransformTimeout, fc.Limits.TransformTimeout)
	set(&cfg.Pipeline.MaxOutputPixels, fc.Limits.MaxOutputPixels)
	set(&cfg.Pipeline.MaxAVIFOutputPixels, fc.Limits.MaxAVIFPixels)
	fc.AVIF.apply(&cfg.AVIF)
}

func set[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}
