package main

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/hostpush/hostpush/imageserver"
	"github.com/hostpush/hostpush/internal/webconfig"
	"github.com/hostpush/hostpush/internal/yamlconf"
)

// fileConfig is the YAML configuration file. Every key is optional; flags
// given on the command line win over the file.
type fileConfig struct {
	Web struct {
		ListenAddress        *string `yaml:"listen_address"`
		MetricsListenAddress *string `yaml:"metrics_listen_address"`
		ConfigFile           *string `yaml:"config_file"`
	} `yaml:"web"`
	Images struct {
		Dir    *string `yaml:"dir"`
		Prefix *string `yaml:"prefix"`
	} `yaml:"images"`
	Cache struct {
		Size   *yamlconf.ByteSize `yaml:"size"`
		MaxAge *time.Duration     `yaml:"max_age"`
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
		MaxSourcePixels  *int64             `yaml:"max_source_pixels"`
		MaxSourceBytes   *yamlconf.ByteSize `yaml:"max_source_bytes"`
		TransformTimeout *time.Duration     `yaml:"transform_timeout"`
		MaxOutputPixels  *int64             `yaml:"max_output_pixels"`
		MaxAVIFPixels    *int64             `yaml:"max_avif_output_pixels"`
	} `yaml:"limits"`
	AVIF avifFile `yaml:"avif"`
}

// loadFile reads a configuration file strictly: unknown keys and bad
// values are *yamlconf.FieldErrors naming the line (an unknown key also the
// keys allowed there), all reported at once. The settings are validated
// after the flags are merged over them; data lets config place those
// problems in the file.
func loadFile(path string) (fc *fileConfig, data []byte, err error) {
	if data, err = os.ReadFile(path); err != nil {
		return nil, nil, fmt.Errorf("reading config file: %w", err)
	}
	fc = &fileConfig{}
	if err := yamlconf.Decode(path, data, fc, nil); err != nil {
		return nil, nil, err
	}
	return fc, data, nil
}

// apply copies the keys set in the file into s.
func (fc *fileConfig) apply(s *settings) {
	cfg := &s.cfg
	set(&s.listen, fc.Web.ListenAddress)
	set(&s.metricsListen, fc.Web.MetricsListenAddress)
	set(&s.webConfig, fc.Web.ConfigFile)
	set(&cfg.ImagesDir, fc.Images.Dir)
	set(&cfg.Prefix, fc.Images.Prefix)
	setSize(&cfg.CacheSize, fc.Cache.Size)
	set(&cfg.MaxAge, fc.Cache.MaxAge)
	if fc.Workers != nil {
		cfg.Admission.Workers = *fc.Workers
		cfg.Admission.QueueSize = imageserver.QueueSize(*fc.Workers)
	}
	set(&cfg.Admission.Timeout, fc.Queue.Timeout)
	set(&cfg.Admission.QueueSize, fc.Queue.Size)
	set(&s.tokenFile, fc.Sign.TokenFile)
	set(&cfg.Pipeline.MaxSourcePixels, fc.Limits.MaxSourcePixels)
	setSize(&cfg.MaxSourceBytes, fc.Limits.MaxSourceBytes)
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

func setSize(dst *int64, v *yamlconf.ByteSize) {
	if v != nil {
		*dst = int64(*v)
	}
}

// config merges defaults, the configuration file and the flags the user
// gave, and validates the result. A problem with a setting the file gave
// is placed at its line; one with a flag's or a default's is not, as
// hostpush reports them.
func (f *flags) config() (settings, error) {
	s := settings{cfg: imageserver.DefaultConfig(runtime.NumCPU()), listen: ":3002"}
	var data []byte
	if f.configFile != "" {
		fc, d, err := loadFile(f.configFile)
		if err != nil {
			return s, err
		}
		fc.apply(&s)
		s.fileQueueSize, data = fc.Queue.Size != nil, d
	}
	err := errors.Join(f.over.Apply(&s), s.readToken(), s.checkWeb(), s.cfg.Validate())
	if data != nil {
		err = yamlconf.Locate(f.configFile, data, err, func(key string) bool { return !f.over.Given(flagName(key)) })
	}
	return s, err
}

// flagName is the flag of a file key: the same path, with dashes.
func flagName(key string) string {
	if key == "web.config_file" {
		return "web.config.file" // as every exporter spells it
	}
	return strings.ReplaceAll(key, "_", "-")
}

// checkWeb checks the metrics listener's settings: the web configuration
// secures only that listener, so without one it would protect nothing.
func (s *settings) checkWeb() error {
	s.cfg.SeparateMetrics = s.metricsListen != ""
	if s.webConfig != "" && s.metricsListen == "" {
		return yamlconf.Errorf("web.config_file", "needs web.metrics_listen_address (--web.metrics-listen-address): it secures that listener; the image port has no TLS or auth")
	}
	if err := webconfig.Check(s.webConfig); err != nil {
		return err
	}
	return nil
}

// readToken reads the signing token from its file, if one is set.
func (s *settings) readToken() error {
	if s.tokenFile == "" {
		return nil
	}
	b, err := os.ReadFile(s.tokenFile)
	if err != nil {
		return yamlconf.Errorf("sign.token_file", "reading the token: %v", err)
	}
	if s.cfg.SignToken = strings.TrimSpace(string(b)); s.cfg.SignToken == "" {
		return yamlconf.Errorf("sign.token_file", "%s is empty (expected the imgix signing token)", s.tokenFile)
	}
	return nil
}
