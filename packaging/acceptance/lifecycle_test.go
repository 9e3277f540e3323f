//go:build acceptance

package acceptance

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"
)

func (h *hostpushRun) upgradeAndFailures() {
	t, s, c := h.t, h.s, h.c
	newDeb := filepath.Base(h.p.newDeb)
	s.run("upgrade to "+debVersion(h.p.newVersion)+": restarted, edited conffile kept", func() {
		pid := c.show(unit, "MainPID")
		c.aptInstall("/root/" + newDeb)
		expect(t, "installed version", c.pkgVersion("hostpush"), debVersion(h.p.newVersion))
		waitUnit(t, c, unit, "active", "running")
		if p := c.show(unit, "MainPID"); p == pid {
			t.Fatalf("MainPID %s unchanged: the upgrade did not restart the service", p)
		}
		expect(t, "is-enabled", c.isEnabled(unit), "enabled")
		if got := c.readFile(confPath); got != h.edited {
			t.Fatalf("%s changed by the upgrade:\n%s", confPath, got)
		}
		for _, p := range []string{confPath + ".dpkg-dist", confPath + ".dpkg-new", confPath + ".dpkg-old"} {
			if c.exists(p) {
				t.Fatalf("%s exists after an upgrade that did not change the packaged file", p)
			}
		}
		waitPush(t, h.gw, "hostpush_build_info", h.instance, "version", h.p.newVersion)
	})

	s.run("an admin's systemctl disable survives an upgrade", func() {
		c.must("systemctl", "disable", unit)
		c.must("apt-get", "install", "-y", "--reinstall", "/root/"+newDeb)
		expect(t, "is-enabled after reinstall", c.isEnabled(unit), "disabled")
		c.must("systemctl", "enable", unit)
		c.must("systemctl", "restart", unit)
		waitUnit(t, c, unit, "active", "running")
	})

	s.run("a config error fails the unit with status 2 and no restart loop", func() {
		c.writeFile(confPath, h.edited+"bogus_key: 1\n", 0o644)
		t0 := time.Now().Add(-time.Second)
		if out, err := c.exec(time.Minute, "systemctl", "restart", unit); err == nil {
			t.Fatalf("systemctl restart with a bad config returned 0:\n%s", out)
		}
		waitUnit(t, c, unit, "failed", "failed")
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
		c.writeFile(confPath, h.edited, 0o644)
		c.must("systemctl", "reset-failed", unit)
		c.must("systemctl", "start", unit)
		waitUnit(t, c, unit, "active", "running")
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
		waitUnit(t, c, unit, "active", "running")
	})
}

func (h *hostpushRun) removeAndPurge() {
	t, s, c := h.t, h.s, h.c
	s.run("apt-get remove: stopped, conffiles kept", func() {
		c.must("apt-get", "remove", "-y", "hostpush")
		expect(t, "ActiveState", c.show(unit, "ActiveState"), "inactive")
		for _, p := range []string{"/usr/bin/hostpush", "/lib/systemd/system/hostpush.service"} {
			if c.exists(p) {
				t.Fatalf("%s still exists after remove", p)
			}
		}
		if c.readFile(confPath) != h.edited {
			t.Fatalf("%s changed by remove", confPath)
		}
	})

	s.run("apt-get purge: files, links, state, user and the empty textfile directory removed", func() {
		// The textfile directory holds other tools' files, which dpkg keeps
		// (and with them the directory): remove the test's own first.
		h.removeMarker()
		c.must("apt-get", "purge", "-y", "hostpush")
		h.expectPurged()
	})
}

// expectPurged checks that nothing of the hostpush package is left.
func (h *hostpushRun) expectPurged() {
	t, c := h.t, h.c
	var left []string
	for _, p := range []string{
		"/usr/bin/hostpush", "/lib/systemd/system/hostpush.service", "/etc/hostpush", "/etc/default/hostpush",
		"/usr/share/doc/hostpush", "/usr/share/man/man1/hostpush.1.gz", "/usr/share/lintian/overrides/hostpush",
		"/etc/systemd/system/hostpush.service", "/etc/systemd/system/multi-user.target.wants/hostpush.service",
		"/var/lib/systemd/deb-systemd-helper-enabled/hostpush.service.dsh-also",
		"/var/lib/systemd/deb-systemd-helper-enabled/multi-user.target.wants/hostpush.service",
		"/var/lib/systemd/deb-systemd-helper-masked/hostpush.service", "/var/lib/hostpush", textfileDir,
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
	// The Pushgateway's package still ships /var/lib/prometheus, owned by
	// its user: the purge must leave both alone.
	expect(t, "/var/lib/prometheus after the purge", c.stat("/var/lib/prometheus"), "prometheus:prometheus 755")
}
