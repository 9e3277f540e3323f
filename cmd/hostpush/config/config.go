// Package config reads hostpush's YAML configuration file: strict (an
// unknown key is an error naming key and line), with every problem reported
// at once, each with the line it is on.
package config

import (
	"errors"
	"fmt"
	"os"

	"github.com/hostpush/hostpush/agent/pushgateway"
	"github.com/hostpush/hostpush/agent/remotewrite"
	"github.com/hostpush/hostpush/collectors/node"
	"github.com/hostpush/hostpush/collectors/scrape"
	"github.com/hostpush/hostpush/internal/yamlconf"
)

// File is the whole configuration file.
type File struct {
	Push        pushgateway.Config   `yaml:"push"`
	Collectors  node.Config          `yaml:"collectors"`
	Scrape      []scrape.Target      `yaml:"scrape"`
	RemoteWrite []remotewrite.Config `yaml:"remote_write"`
}

// Default returns the configuration used when no file is given. Its scrape
// list is the co-located image server, scraped when the file has no scrape
// list; a target that is down costs one refused connection per tick and
// shows as hostpush_scrape_success 0.
func Default() File {
	return File{
		Push:   pushgateway.DefaultConfig(),
		Scrape: []scrape.Target{{Name: "imageserver", URL: "http://127.0.0.1:3002/metrics"}},
	}
}

// Validate checks every block and joins all problems; each names its key.
func (f *File) Validate() error {
	errs := []error{f.Push.Validate(), f.Collectors.Validate(), scrape.ValidateAll(f.Scrape), remotewrite.ValidateList(f.RemoteWrite)}
	if f.Push.Disabled && len(f.RemoteWrite) == 0 {
		errs = append(errs, yamlconf.Errorf("push.disabled", "true with no remote_write outputs leaves nothing to send to (allowed: false, or add remote_write)"))
	}
	return errors.Join(errs...)
}

// Load reads and validates the file at path on top of Default.
func Load(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading config file: %w", err)
	}
	return Parse(path, data)
}

// Parse decodes data (named name in errors) on top of Default and validates
// it. Errors are one line each, "name:line: key: problem", joined; each is
// a *yamlconf.FieldError.
func Parse(name string, data []byte) (*File, error) {
	f := Default()
	if err := yamlconf.Decode(name, data, &f, f.Validate); err != nil {
		return nil, err
	}
	return &f, nil
}
