package scrape

import (
	"strings"
	"testing"
	"time"
)

func TestTargetValidate(t *testing.T) {
	good := Target{Name: "imageserver", URL: "http://127.0.0.1:3002/metrics", Timeout: time.Second}
	tests := []struct {
		name string
		edit func(*Target)
		want []string // substrings of the error; none: valid
	}{
		{"valid", func(*Target) {}, nil},
		{"valid https and job", func(t *Target) { t.URL = "https://localhost/m"; t.Job = "images" }, nil},
		{"zero timeout means default", func(t *Target) { t.Timeout = 0 }, nil},
		{"missing name", func(t *Target) { t.Name = "" }, []string{"name: \"\" must be non-empty"}},
		{"name with slash", func(t *Target) { t.Name = "a/b" }, []string{"name: \"a/b\""}},
		{"missing url", func(t *Target) { t.URL = "" }, []string{"url: missing"}},
		{"url without scheme", func(t *Target) { t.URL = "127.0.0.1:3002/metrics" }, []string{"url: "}},
		{"ftp url", func(t *Target) { t.URL = "ftp://host/metrics" }, []string{"url: \"ftp://host/metrics\": scheme must be http or https"}},
		{"url without host", func(t *Target) { t.URL = "http:///metrics" }, []string{"has no host"}},
		{"bad url", func(t *Target) { t.URL = "http://[::1" }, []string{"is not a URL"}},
		{"negative timeout", func(t *Target) { t.Timeout = -time.Second }, []string{"timeout: -1s must not be negative"}},
		{"two problems", func(t *Target) { t.Name = ""; t.URL = "" }, []string{"name:", "url: missing"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tg := good
			tc.edit(&tg)
			err := tg.Validate()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want an error with %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %q, want it to contain %q", err, w)
				}
			}
		})
	}
}

func TestValidateAllNamesKeys(t *testing.T) {
	targets := []Target{
		{Name: "a", URL: "http://127.0.0.1:1/metrics"},
		{Name: "b", URL: "gopher://x"},
		{Name: "a", URL: "http://127.0.0.1:2/metrics", Job: "other"},
		{Name: "c", URL: "http://127.0.0.1:3/metrics", Job: "b"},
	}
	err := ValidateAll(targets)
	if err == nil {
		t.Fatal("ValidateAll() = nil, want errors")
	}
	lines := strings.Split(err.Error(), "\n")
	want := []string{
		`scrape[1].url: "gopher://x": scheme must be http or https`,
		`scrape[2].name: "a" is already used by scrape[0]; names must be unique`,
		`scrape[3].job: "b" is already the job of scrape[1]; each target needs its own job`,
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("ValidateAll() =\n%s\nwant\n%s", err, strings.Join(want, "\n"))
	}
	if err := ValidateAll(targets[:1]); err != nil {
		t.Errorf("ValidateAll(one good target) = %v", err)
	}
}

func TestJobName(t *testing.T) {
	if got := (Target{Name: "n"}).JobName(); got != "n" {
		t.Errorf("JobName() = %q, want the name", got)
	}
	if got := (Target{Name: "n", Job: "j"}).JobName(); got != "j" {
		t.Errorf("JobName() = %q, want the override", got)
	}
}
