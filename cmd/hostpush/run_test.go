package main

import (
	"bytes"
	"net"
	"runtime"
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

// TestRunWaitsForTheReloader runs hostpush in this process with a web
// listen address already taken, so the loop ends on its own while the
// context still runs: run must not return while its SIGHUP reloader
// goroutine is still running. kingpin's global command line lets run be
// called once per test process; no other test calls it in-process.
func TestRunWaitsForTheReloader(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), []string{"--push.url=http://127.0.0.1:1", "--push.interval=1s", "--web.listen-address=" + taken.Addr().String(),
		"--log.level=error", "--collector.disable-defaults", "--collector.uname"}, &stdout, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "address already in use") {
		t.Fatalf("exit %d, stderr %q; want 1 and the listen failure", code, stderr.String())
	}
	buf := make([]byte, 1<<20)
	if stacks := string(buf[:runtime.Stack(buf, true)]); strings.Contains(stacks, "hostpush.reloadOnHUP(") {
		t.Fatalf("run returned while reloadOnHUP still runs:\n%s", stacks)
	}
}
