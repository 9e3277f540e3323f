package main

import (
	"strings"
	"testing"

	"github.com/alecthomas/kingpin/v2"
)

// TestConfigFile: --config.file is found as kingpin will parse it, before
// the file's collector flags join the command line.
func TestConfigFile(t *testing.T) {
	app := kingpin.New("t", "")
	app.Flag("config.file", "").String()
	app.Flag("collector.x", "").Bool()
	app.Flag("push.url", "").String()
	for args, want := range map[string]string{
		"":                                   "",
		"--config.file=a.yml":                "a.yml",
		"--collector.x --config.file b.yml":  "b.yml",
		"--push.url --config.file=x.yml":     "", // the value of --push.url
		"--config.file=a.yml --no-such-flag": "a.yml",
		"--no-such-flag --config.file=a.yml": "", // reported by the full parse
	} {
		if got := configFile(app, strings.Fields(args)); got != want {
			t.Errorf("configFile(%q) = %q, want %q", args, got, want)
		}
	}
}
