// Package testphoto finds the real 12 MP photo the benchmarks use: an iPhone
// XS picture (4032x3024, EXIF orientation 6, Display P3 ICC profile) shipped
// in the Go module github.com/h2non/bimg@v1.1.9. It is fetched through the
// go command at run time and never committed.
package testphoto

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
)

// Module is the module version that ships the photo.
const Module = "github.com/h2non/bimg@v1.1.9"

// Path downloads the module if needed and returns the photo's path.
func Path() (string, error) {
	out, err := exec.Command("go", "mod", "download", "-json", Module).Output()
	if err != nil {
		return "", fmt.Errorf("go mod download %s: %w", Module, err)
	}
	var m struct{ Dir, Error string }
	if err := json.Unmarshal(out, &m); err != nil {
		return "", fmt.Errorf("reading go mod download output: %w", err)
	}
	if m.Error != "" || m.Dir == "" {
		return "", fmt.Errorf("go mod download %s: %s", Module, m.Error)
	}
	return filepath.Join(m.Dir, "testdata", "test_exif_full.jpg"), nil
}
