package imageserver

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/hostpush/hostpush/internal/yamlconf"
)

// TestConfigValidate: every problem is reported at once, each a
// FieldError keyed as the configuration file spells the setting.
func TestConfigValidate(t *testing.T) {
	c := DefaultConfig(2)
	if got := fieldKeys(t, c.Validate()); !slices.Equal(got, []string{"images.dir"}) {
		t.Fatalf("missing dir: keys %q, want images.dir", got)
	}
	c.ImagesDir, c.Prefix, c.CacheSize, c.Admission.Workers = "/x", "assets", -1, 0
	c.MaxAge, c.MaxSourceBytes, c.TransformTimeout, c.Admission.QueueSize, c.Admission.Timeout = -1, 0, 0, -1, 0
	c.Pipeline.MaxOutputPixels, c.AVIF.Admission.QueueSize, c.AVIF.Admission.Timeout, c.AVIF.Timeout = 0, -1, 0, 0
	err := c.Validate()
	want := []string{"images.prefix", "cache.size", "cache.max_age", "limits.max_source_bytes", "limits.transform_timeout",
		"workers", "queue.size", "queue.timeout", "limits.max_output_pixels", "avif.queue_size", "avif.queue_timeout", "avif.transform_timeout"}
	if got := fieldKeys(t, err); !slices.Equal(got, want) {
		t.Errorf("keys %q, want %q", got, want)
	}
	if !strings.Contains(err.Error(), `images.prefix: "assets" must start with /`) || !strings.Contains(err.Error(), "workers: must be at least 1, got 0") {
		t.Errorf("messages: %v", err)
	}
}

// fieldKeys returns the keys of the FieldErrors err joins (also inside
// nested joins), failing on any other error.
func fieldKeys(t *testing.T, err error) []string {
	t.Helper()
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var keys []string
		for _, e := range j.Unwrap() {
			keys = append(keys, fieldKeys(t, e)...)
		}
		return keys
	}
	var fe *yamlconf.FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("%v is not a FieldError", err)
	}
	return []string{fe.Key}
}
