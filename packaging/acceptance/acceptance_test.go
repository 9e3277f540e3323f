//go:build acceptance

package acceptance

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

const (
	unit          = "hostpush.service"
	confPath      = "/etc/hostpush/hostpush.yml"
	watchdogSec   = 30 * time.Second
	restartSec    = 5 * time.Second
	pushInterval  = "2s"
	reloadedLabel = "reloaded"
)

// steps runs the test's steps in order, printing each with its duration, and
// a summary at the end.
type steps struct {
	t       *testing.T
	n       int
	current string
	started time.Time
	done    []string
}

func newSteps(t *testing.T) *steps {
	s := &steps{t: t}
	t.Cleanup(func() {
		var b strings.Builder
		b.WriteString("acceptance step log:\n")
		for _, l := range s.done {
			b.WriteString(l + "\n")
		}
		if t.Failed() && s.current != "" {
			fmt.Fprintf(&b, "step %2d  %-66s FAILED after %.1fs\n", s.n, s.current, time.Since(s.started).Seconds())
		}
		t.Log(b.String())
	})
	return s
}

func (s *steps) run(name string, f func()) {
	s.n++
	s.current, s.started = name, time.Now()
	s.t.Logf("step %d: %s", s.n, name)
	f()
	line := fmt.Sprintf("step %2d  %-66s ok  %6.1fs", s.n, name, time.Since(s.started).Seconds())
	s.done = append(s.done, line)
	s.current = ""
	s.t.Log(line)
}

func TestHostpushPackage(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("the acceptance test boots a container with systemd-nspawn: run it as root (make acceptance)")
	}
	for _, tool := range []string{"systemd-nspawn", "debootstrap", "nsenter", "prometheus-pushgateway", "dpkg-deb", "tar", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is missing: run packaging/install-deps.sh acceptance", tool)
		}
	}
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	vb, err := os.ReadFile(filepath.Join(repo, "VERSION"))
	if err != nil {
		t.Fatal(err)
	}
	version := strings.TrimSpace(string(vb))
	debs, _ := filepath.Glob(filepath.Join(repo, "dist", "hostpush_"+version+"_*.deb"))
	if len(debs) != 1 {
		t.Fatalf("want one dist/hostpush_%s_<arch>.deb, found %d: run make deb first", version, len(debs))
	}
	deb := debs[0]
	rnd := make([]byte, 3)
	rand.Read(rnd)
	name := "hpacc-" + hex.EncodeToString(rnd)
	s := newSteps(t)

	var newDeb, newVersion string
	s.run("build a newer package (same tree, version "+version+"+acceptance1)", func() {
		newDeb, newVersion = buildNewer(t, repo, version)
	})

	var tarball string
	s.run("Debian 12 tree: cached debootstrap tarball", func() {
		var built bool
		tarball, built = treeTarball(t, t.Logf)
		if built {
			t.Logf("built and cached %s", tarball)
		} else {
			t.Logf("cached: %s", tarball)
		}
	})

	var gw *gateway
	s.run("start prometheus-pushgateway on a free loopback port", func() {
		gw = startGateway(t)
		t.Logf("pushgateway at %s", gw.url)
	})

	var c *container
	s.run("boot systemd in systemd-nspawn (machine "+name+")", func() {
		c = boot(t, tarball, name)
	})
	t.Cleanup(func() {
		if t.Failed() && c != nil {
			out, _ := c.exec(30*time.Second, "journalctl", "--no-pager", "-n", "80", "-u", unit)
			t.Logf("journal of %s in the container:\n%s", unit, out)
		}
	})
	c.copyIn(deb, "/root/"+filepath.Base(deb))
	c.copyIn(newDeb, "/root/"+filepath.Base(newDeb))

	s.run("apt-get install ./"+filepath.Base(deb)+": enabled, active (running)", func() {
		c.must("apt-get", "install", "-y", "--no-install-recommends", "/root/"+filepath.Base(deb))
		expect(t, "is-enabled", c.isEnabled(), "enabled")
		waitUnit(t, c, "active", "running")
		uid := strings.Split(strings.TrimSpace(c.must("getent", "passwd", "hostpush")), ":")[2]
		if n, _ := strconv.Atoi(uid); n == 0 || n >= 1000 {
			t.Fatalf("user hostpush has uid %s; want a system user (1-999)", uid)
		}
		status := c.must("cat", "/proc/"+c.show(unit, "MainPID")+"/status")
		if !regexp.MustCompile(`(?m)^Uid:\s+` + uid + `\s`).MatchString(status) {
			t.Fatalf("main process does not run as hostpush (uid %s):\n%s", uid, status)
		}
	})

	packaged := c.readFile(confPath)
	edited := packaged
	for old, repl := range map[string]string{
		"url: http://localhost:9091": "url: " + gw.url,
		"interval: 5s":               "interval: " + pushInterval,
	} {
		if !strings.Contains(edited, old) {
			t.Fatalf("packaged %s has no line %q to edit", confPath, old)
		}
		edited = strings.Replace(edited, old, repl, 1)
	}
	instance := map[string]string{"job": "host-stats", "instance": name}

	s.run("systemctl enable --now: exit 0, STATUS text, pushes with instance="+name, func() {
		c.must("systemctl", "disable", "--now", unit)
		expect(t, "is-enabled after disable", c.isEnabled(), "disabled")
		c.writeFile(confPath, edited, 0o644)
		if out, err := c.exec(time.Minute, "systemctl", "enable", "--now", unit); err != nil {
			t.Fatalf("systemctl enable --now %s: %v\n%s", unit, err, out)
		}
		waitUnit(t, c, "active", "running")
		waitPush(t, gw, "hostpush_build_info", instance, "version", version)
		if err := waitFor(20*time.Second, func() error {
			out, _ := c.exec(time.Minute, "systemctl", "status", "--no-pager", unit)
			if !regexp.MustCompile(`Status: "pushed \d+ series`).MatchString(out) {
				return fmt.Errorf("no Status: \"pushed N series ...\" in systemctl status:\n%s", out)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		st := c.show(unit, "StatusText")
		t.Logf("StatusText=%q", st)
	})

	s.run("systemctl reload (SIGHUP) applies a changed config, same process", func() {
		pid := c.show(unit, "MainPID")
		if !strings.Contains(edited, "grouping: {}") {
			t.Fatalf("packaged %s has no line %q to edit", confPath, "grouping: {}")
		}
		edited = strings.Replace(edited, "grouping: {}", "grouping: {acceptance: "+reloadedLabel+"}", 1)
		c.writeFile(confPath, edited, 0o644)
		c.must("systemctl", "reload", unit)
		instance["acceptance"] = reloadedLabel
		waitPush(t, gw, "hostpush_build_info", instance, "version", version)
		expect(t, "MainPID after reload", c.show(unit, "MainPID"), pid)
	})

	s.run(fmt.Sprintf("still active, no restarts after more than WatchdogSec (%s)", watchdogSec), func() {
		pid := c.show(unit, "MainPID")
		since, err := time.Parse("Mon 2006-01-02 15:04:05 MST", c.show(unit, "ActiveEnterTimestamp"))
		if err != nil {
			t.Fatalf("ActiveEnterTimestamp: %v", err)
		}
		if wait := time.Until(since.Add(watchdogSec + 3*time.Second)); wait > 0 {
			time.Sleep(wait)
		}
		waitUnit(t, c, "active", "running")
		expect(t, "MainPID", c.show(unit, "MainPID"), pid)
		expect(t, "NRestarts", c.show(unit, "NRestarts"), "0")
		freshPush(t, gw, instance, time.Now())
	})

	s.run("SIGSTOP on the main process: the watchdog restarts it", func() {
		pid := c.show(unit, "MainPID")
		c.must("systemctl", "kill", "--kill-whom=main", "--signal=SIGSTOP", unit)
		if err := waitFor(watchdogSec+restartSec+20*time.Second, func() error {
			if n := c.show(unit, "NRestarts"); n != "1" {
				return fmt.Errorf("NRestarts=%s", n)
			}
			if p := c.show(unit, "MainPID"); p == pid || p == "0" {
				return fmt.Errorf("MainPID=%s (was %s)", p, pid)
			}
			return nil
		}); err != nil {
			t.Fatalf("no restart after SIGSTOP: %v", err)
		}
		waitUnit(t, c, "active", "running")
		// Killed by the watchdog's SIGABRT (GOTRACEBACK=crash), not exited
		// with status 2, which RestartPreventExitStatus=2 would not restart.
		j := c.must("journalctl", "--no-pager", "-o", "cat", "-u", unit)
		for _, want := range []string{"Watchdog timeout", "code=killed, status=6/ABRT", "goroutine "} {
			if !strings.Contains(j, want) {
				t.Fatalf("journal of %s has no %q", unit, want)
			}
		}
		freshPush(t, gw, instance, time.Now())
	})

	s.run("every collector that succeeds outside the unit succeeds inside it", func() {
		// Outside: root, no sandbox, in the container (a transient unit, so
		// that it runs under the container's systemd like the service).
		out, stderr, err := c.execSplit(2*time.Minute, "systemd-run", "--quiet", "--wait", "--pipe", "--collect",
			"/usr/bin/hostpush", "--dry-run", "--config.file="+confPath)
		if err != nil {
			t.Fatalf("hostpush --dry-run as root: %v\n%s", err, stderr)
		}
		outside := map[string]float64{}
		for _, m := range regexp.MustCompile(`(?m)^node_scrape_collector_success\{collector="([^"]+)"\} (\S+)$`).FindAllStringSubmatch(out, -1) {
			v, _ := strconv.ParseFloat(m[2], 64)
			outside[m[1]] = v
		}
		if len(outside) == 0 {
			t.Fatalf("hostpush --dry-run printed no node_scrape_collector_success:\n%s", out)
		}
		freshPush(t, gw, instance, time.Now())
		inside, err := gw.samples("node_scrape_collector_success", instance, "collector")
		if err != nil {
			t.Fatal(err)
		}
		var ok, broken, failBoth []string
		for col, v := range outside {
			switch {
			case v == 1 && inside[col] == 1:
				ok = append(ok, col)
			case v == 1:
				broken = append(broken, col)
			default:
				failBoth = append(failBoth, col)
			}
		}
		sort.Strings(ok)
		sort.Strings(broken)
		sort.Strings(failBoth)
		t.Logf("%d collectors succeed outside and inside the unit: %s", len(ok), strings.Join(ok, " "))
		t.Logf("%d fail outside as well (no such hardware or subsystem here): %s", len(failBoth), strings.Join(failBoth, " "))
		if len(broken) > 0 {
			t.Fatalf("collectors that succeed as root outside the unit but fail inside it: %s", strings.Join(broken, " "))
		}
	})

	s.run("upgrade to "+newVersion+": restarted, edited conffile kept", func() {
		pid := c.show(unit, "MainPID")
		c.must("apt-get", "install", "-y", "--no-install-recommends", "/root/"+filepath.Base(newDeb))
		expect(t, "installed version", c.must("dpkg-query", "-W", "-f=${Version}", "hostpush"), newVersion)
		waitUnit(t, c, "active", "running")
		if p := c.show(unit, "MainPID"); p == pid {
			t.Fatalf("MainPID %s unchanged: the upgrade did not restart the service", p)
		}
		expect(t, "is-enabled", c.isEnabled(), "enabled")
		if got := c.readFile(confPath); got != edited {
			t.Fatalf("%s changed by the upgrade:\n%s", confPath, got)
		}
		for _, p := range []string{confPath + ".dpkg-dist", confPath + ".dpkg-new", confPath + ".dpkg-old"} {
			if c.exists(p) {
				t.Fatalf("%s exists after the upgrade", p)
			}
		}
		waitPush(t, gw, "hostpush_build_info", instance, "version", newVersion)
	})

	s.run("an admin's systemctl disable survives an upgrade", func() {
		c.must("systemctl", "disable", unit)
		c.must("apt-get", "install", "-y", "--reinstall", "/root/"+filepath.Base(newDeb))
		expect(t, "is-enabled after reinstall", c.isEnabled(), "disabled")
		c.must("systemctl", "enable", unit)
		c.must("systemctl", "restart", unit)
		waitUnit(t, c, "active", "running")
	})

	s.run("a config error fails the unit with status 2 and no restart loop", func() {
		c.writeFile(confPath, edited+"bogus_key: 1\n", 0o644)
		t0 := time.Now().Add(-time.Second)
		if out, err := c.exec(time.Minute, "systemctl", "restart", unit); err == nil {
			t.Fatalf("systemctl restart with a bad config returned 0:\n%s", out)
		}
		waitUnit(t, c, "failed", "failed")
		expect(t, "ExecMainStatus", c.show(unit, "ExecMainStatus"), "2")
		inactiveSince := c.show(unit, "InactiveEnterTimestampMonotonic")
		time.Sleep(restartSec + 3*time.Second)
		expect(t, "ActiveState after RestartSec", c.show(unit, "ActiveState"), "failed")
		expect(t, "InactiveEnterTimestampMonotonic after RestartSec (no new attempt)", c.show(unit, "InactiveEnterTimestampMonotonic"), inactiveSince)
		j := c.must("journalctl", "--no-pager", "-o", "cat", "-u", unit, fmt.Sprintf("--since=@%d", t0.Unix()))
		if !strings.Contains(j, "bogus_key") {
			t.Fatalf("the journal does not name the bad key bogus_key:\n%s", j)
		}
		if n := strings.Count(j, "status=2/INVALIDARGUMENT"); n != 1 {
			t.Fatalf("the process exited with status 2 %d times since the restart, want once:\n%s", n, j)
		}
		c.writeFile(confPath, edited, 0o644)
		c.must("systemctl", "reset-failed", unit)
		c.must("systemctl", "start", unit)
		waitUnit(t, c, "active", "running")
	})

	s.run("systemctl stop: STOPPING=1 sent, exit status 0", func() {
		c.must("systemd-analyze", "log-level", "debug")
		if out, err := c.exec(time.Minute, "systemctl", "stop", unit); err != nil {
			t.Fatalf("systemctl stop: %v\n%s", err, out)
		}
		c.must("systemd-analyze", "log-level", "info")
		expect(t, "ActiveState", c.show(unit, "ActiveState"), "inactive")
		expect(t, "Result", c.show(unit, "Result"), "success")
		expect(t, "ExecMainStatus", c.show(unit, "ExecMainStatus"), "0")
		if err := waitFor(10*time.Second, func() error {
			if j := c.must("journalctl", "--no-pager", "-u", unit, "-n", "200"); !strings.Contains(j, "STOPPING=1") {
				return fmt.Errorf("no STOPPING=1 notification in the journal")
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		c.must("systemctl", "start", unit)
		waitUnit(t, c, "active", "running")
	})

	s.run("apt-get remove: stopped, conffiles kept", func() {
		c.must("apt-get", "remove", "-y", "hostpush")
		expect(t, "ActiveState", c.show(unit, "ActiveState"), "inactive")
		for _, p := range []string{"/usr/bin/hostpush", "/lib/systemd/system/hostpush.service"} {
			if c.exists(p) {
				t.Fatalf("%s still exists after remove", p)
			}
		}
		if c.readFile(confPath) != edited {
			t.Fatalf("%s changed by remove", confPath)
		}
	})

	s.run("apt-get purge: files, links, state and user removed", func() {
		c.must("apt-get", "purge", "-y", "hostpush")
		var left []string
		for _, p := range []string{
			"/usr/bin/hostpush", "/lib/systemd/system/hostpush.service", "/etc/hostpush", "/etc/default/hostpush",
			"/usr/share/doc/hostpush", "/usr/share/man/man1/hostpush.1.gz", "/usr/share/lintian/overrides/hostpush",
			"/etc/systemd/system/hostpush.service", "/etc/systemd/system/multi-user.target.wants/hostpush.service",
			"/var/lib/systemd/deb-systemd-helper-enabled/hostpush.service.dsh-also",
			"/var/lib/systemd/deb-systemd-helper-enabled/multi-user.target.wants/hostpush.service",
			"/var/lib/systemd/deb-systemd-helper-masked/hostpush.service",
		} {
			if c.exists(p) {
				left = append(left, p)
			}
		}
		more, _ := filepath.Glob(c.path("/etc/systemd/system/*/hostpush*"))
		for _, m := range more {
			left = append(left, strings.TrimPrefix(m, c.dir))
		}
		if len(left) > 0 {
			t.Fatalf("left after purge: %s", strings.Join(left, " "))
		}
		if out, err := c.exec(time.Minute, "getent", "passwd", "hostpush"); err == nil {
			t.Fatalf("user hostpush still exists after purge: %s", out)
		}
		expect(t, "LoadState", c.show(unit, "LoadState"), "not-found")
		if out, err := c.exec(time.Minute, "dpkg-query", "-W", "hostpush"); err == nil {
			t.Fatalf("dpkg still knows hostpush after purge: %s", out)
		}
	})
}

// buildNewer builds bin/hostpush with a higher version into a temporary
// directory and packages it without the gates (they ran on the real one).
func buildNewer(t *testing.T, repo, version string) (deb, newVersion string) {
	t.Helper()
	newVersion = version + "+acceptance1"
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	build := exec.CommandContext(ctx, "go", "build", "-trimpath",
		"-ldflags", "-s -w -X github.com/hostpush/hostpush/agent.Version="+newVersion,
		"-o", filepath.Join(dir, "hostpush"), "./cmd/hostpush")
	build.Dir = repo
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/hostpush: %v\n%s", err, out)
	}
	pkg := exec.CommandContext(ctx, filepath.Join(repo, "packaging", "build-deb.sh"), "hostpush")
	pkg.Dir = repo
	pkg.Env = append(os.Environ(), "VERSION="+newVersion, "BIN="+filepath.Join(dir, "hostpush"), "DIST="+dir, "GATES=0")
	if out, err := pkg.CombinedOutput(); err != nil {
		t.Fatalf("packaging the newer build: %v\n%s", err, out)
	}
	debs, _ := filepath.Glob(filepath.Join(dir, "hostpush_"+newVersion+"_*.deb"))
	if len(debs) != 1 {
		t.Fatalf("want one hostpush_%s_<arch>.deb in %s, found %d", newVersion, dir, len(debs))
	}
	return debs[0], newVersion
}

func expect(t *testing.T, what, got, want string) {
	t.Helper()
	if got != want {
		t.Fatalf("%s: got %q, want %q", what, got, want)
	}
}

// waitUnit waits up to 30 s for the unit to reach the states.
func waitUnit(t *testing.T, c *container, active, sub string) {
	t.Helper()
	if err := waitFor(30*time.Second, func() error {
		a, s := c.show(unit, "ActiveState"), c.show(unit, "SubState")
		if a != active || s != sub {
			return fmt.Errorf("%s is %s (%s), want %s (%s)", unit, a, s, active, sub)
		}
		return nil
	}); err != nil {
		out, _ := c.exec(time.Minute, "systemctl", "status", "--no-pager", "-n", "30", unit)
		t.Fatalf("%v\n%s", err, out)
	}
}

// waitPush waits up to 30 s for a sample of family with the labels match and
// label key set to value at the gateway.
func waitPush(t *testing.T, gw *gateway, family string, match map[string]string, key, value string) {
	t.Helper()
	if err := waitFor(30*time.Second, func() error {
		vals, err := gw.labelValues(family, match, key)
		if err != nil {
			return err
		}
		for _, v := range vals {
			if v == value {
				return nil
			}
		}
		return fmt.Errorf("%s%v at the gateway has %s values %q, want %q", family, match, key, vals, value)
	}); err != nil {
		t.Fatal(err)
	}
}

// freshPush waits up to 30 s for a push of the group after since.
func freshPush(t *testing.T, gw *gateway, match map[string]string, since time.Time) {
	t.Helper()
	if err := waitFor(30*time.Second, func() error {
		s, err := gw.samples("push_time_seconds", match, "")
		if err != nil {
			return err
		}
		if v, ok := s[""]; !ok || v < float64(since.UnixNano())/1e9 {
			return fmt.Errorf("no push of %v since %s (push_time_seconds %v)", match, since.Format(time.TimeOnly), s)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// isEnabled returns what systemctl is-enabled prints (it exits 1 when the
// unit is disabled).
func (c *container) isEnabled() string {
	out, _ := c.exec(time.Minute, "systemctl", "is-enabled", unit)
	return strings.TrimSpace(out)
}

// execSplit runs a command in the container and returns stdout and stderr
// separately.
func (c *container) execSplit(timeout time.Duration, args ...string) (string, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	full := append([]string{"-t", strconv.Itoa(c.pid), "-m", "-u", "-i", "-p", "--",
		"/usr/bin/env", "-i", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8"}, args...)
	cmd := killable(exec.CommandContext(ctx, "nsenter", full...))
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return out.String(), errb.String(), err
}
