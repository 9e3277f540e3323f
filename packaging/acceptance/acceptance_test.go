//go:build acceptance

package acceptance

import (
	"fmt"
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
	textfileDir   = "/var/lib/prometheus/node-exporter"
	watchdogSec   = 30 * time.Second
	restartSec    = 5 * time.Second
	pushInterval  = "2s"
	reloadedLabel = "reloaded"
)

// hostpushRun is one release's run of the hostpush steps.
type hostpushRun struct {
	t        *testing.T
	s        *steps
	r        release
	p        *packages
	c        *container
	gw       *gateway
	name     string
	packaged string            // the current package's hostpush.yml
	edited   string            // what the admin made of it
	instance map[string]string // the grouping labels of the pushes
}

func TestHostpushPackage(t *testing.T) {
	p := setup(t, true)
	for _, r := range releases {
		t.Run(r.suite, func(t *testing.T) {
			h := &hostpushRun{t: t, s: newSteps(t, "hostpush on "+r.String()), r: r, p: p, name: machineName("hpacc-" + r.suite)}
			h.boot()
			h.freshInstall()
			h.textfile()
			h.reloadAndWatchdog()
			h.collectorsInsideUnit()
			h.nodeExporterBeside()
			h.upgradeAndFailures()
			h.removeAndPurge()
			h.upgradeFromPrevious()
		})
	}
}

// boot builds or takes the release's tree, boots it and starts the
// release's own Pushgateway in it.
func (h *hostpushRun) boot() {
	t, s := h.t, h.s
	var tarball string
	s.run(h.r.name+" tree: cached debootstrap tarball", func() {
		var built bool
		tarball, built = treeTarball(t, h.r)
		s.note("%s", map[bool]string{true: "built and cached", false: "cached"}[built])
	})
	s.run("boot systemd in systemd-nspawn (machine "+h.name+")", func() {
		h.c = boot(t, tarball, h.name)
		s.note("systemd %s", h.c.pkgVersion("systemd"))
	})
	t.Cleanup(func() {
		if t.Failed() && h.c != nil {
			out, _ := h.c.exec(30*time.Second, "journalctl", "--no-pager", "-n", "80", "-u", unit)
			t.Logf("journal of %s in the container:\n%s", unit, out)
		}
	})
	s.run("start the release's prometheus-pushgateway (Debian's unit) on a free loopback port", func() {
		h.gw = startGateway(t, h.c)
		s.note("pushgateway %s (package %s) at %s", h.gw.version, h.c.pkgVersion("prometheus-pushgateway"), h.gw.url)
	})
	for _, deb := range []string{h.p.hostpush, h.p.newDeb, h.p.prev.hostpush} {
		h.c.copyIn(deb, "/root/"+filepath.Base(deb))
	}
}

func (h *hostpushRun) freshInstall() {
	t, s, c := h.t, h.s, h.c
	deb := filepath.Base(h.p.hostpush)
	s.run("apt-get install ./"+deb+": enabled, active (running)", func() {
		c.aptInstall("/root/" + deb)
		expect(t, "is-enabled", c.isEnabled(unit), "enabled")
		waitUnit(t, c, unit, "active", "running")
		uid := strings.Split(strings.TrimSpace(c.must("getent", "passwd", "hostpush")), ":")[2]
		if n, _ := strconv.Atoi(uid); n == 0 || n >= 1000 {
			t.Fatalf("user hostpush has uid %s; want a system user (1-999)", uid)
		}
		status := c.must("cat", "/proc/"+c.show(unit, "MainPID")+"/status")
		if !regexp.MustCompile(`(?m)^Uid:\s+` + uid + `\s`).MatchString(status) {
			t.Fatalf("main process does not run as hostpush (uid %s):\n%s", uid, status)
		}
	})
	h.packaged = c.readFile(confPath)
	h.edited = editConfig(t, h.packaged, map[string]string{
		"url: http://localhost:9091": "url: " + h.gw.url,
		"interval: 5s":               "interval: " + pushInterval,
	})
	h.instance = map[string]string{"job": "host-stats", "instance": h.name}

	s.run("systemctl enable --now: exit 0, STATUS text, pushes with instance="+h.name, func() {
		c.must("systemctl", "disable", "--now", unit)
		expect(t, "is-enabled after disable", c.isEnabled(unit), "disabled")
		c.writeFile(confPath, h.edited, 0o644)
		if out, err := c.exec(time.Minute, "systemctl", "enable", "--now", unit); err != nil {
			t.Fatalf("systemctl enable --now %s: %v\n%s", unit, err, out)
		}
		waitUnit(t, c, unit, "active", "running")
		waitPush(t, h.gw, "hostpush_build_info", h.instance, "version", h.p.version)
		if err := waitFor(20*time.Second, func() error {
			out, _ := c.exec(time.Minute, "systemctl", "status", "--no-pager", unit)
			if !regexp.MustCompile(`Status: "pushed \d+ series`).MatchString(out) {
				return fmt.Errorf("no Status: \"pushed N series ...\" in systemctl status:\n%s", out)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		t.Logf("StatusText=%q", c.show(unit, "StatusText"))
	})
}

func (h *hostpushRun) reloadAndWatchdog() {
	t, s, c := h.t, h.s, h.c
	s.run("systemctl reload (SIGHUP) applies a changed config, same process", func() {
		pid := c.show(unit, "MainPID")
		h.edited = editConfig(t, h.edited, map[string]string{"grouping: {}": "grouping: {acceptance: " + reloadedLabel + "}"})
		c.writeFile(confPath, h.edited, 0o644)
		c.must("systemctl", "reload", unit)
		h.instance["acceptance"] = reloadedLabel
		waitPush(t, h.gw, "hostpush_build_info", h.instance, "version", h.p.version)
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
		waitUnit(t, c, unit, "active", "running")
		expect(t, "MainPID", c.show(unit, "MainPID"), pid)
		expect(t, "NRestarts", c.show(unit, "NRestarts"), "0")
		freshPush(t, h.gw, h.instance, time.Now())
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
		waitUnit(t, c, unit, "active", "running")
		// Killed by the watchdog's SIGABRT (GOTRACEBACK=crash), not exited
		// with status 2, which RestartPreventExitStatus=2 would not restart.
		j := c.must("journalctl", "--no-pager", "-o", "cat", "-u", unit)
		for _, want := range []string{"Watchdog timeout", "code=killed, status=6/ABRT", "goroutine "} {
			if !strings.Contains(j, want) {
				t.Fatalf("journal of %s has no %q", unit, want)
			}
		}
		freshPush(t, h.gw, h.instance, time.Now())
	})
}

func (h *hostpushRun) collectorsInsideUnit() {
	t, c := h.t, h.c
	h.s.run("every collector that succeeds outside the unit succeeds inside it", func() {
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
		freshPush(t, h.gw, h.instance, time.Now())
		inside, err := h.gw.samples("node_scrape_collector_success", h.instance, "collector")
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
		h.s.note("%d collectors ok inside the unit", len(ok))
	})
}
