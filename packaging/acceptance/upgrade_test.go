//go:build acceptance

package acceptance

import (
	"path/filepath"
	"regexp"
	"strings"
)

// upgradeFromPrevious installs the previous release's package, configures
// it as an admin would, and upgrades it in place to the current package.
func (h *hostpushRun) upgradeFromPrevious() {
	t, s, c := h.t, h.s, h.c
	prev := h.p.prev
	group := map[string]string{"job": "host-stats", "instance": h.name, "acceptance": "upgrade"}
	var oldPackaged, oldEdited, oldPID string
	s.run("previous release "+prev.version+" (built from "+previousCommit+"): install, point it at the gateway", func() {
		c.aptInstall("/root/" + filepath.Base(prev.hostpush))
		expect(t, "installed version", c.pkgVersion("hostpush"), prev.version)
		waitUnit(t, c, unit, "active", "running")
		oldPackaged = c.readFile(confPath)
		oldEdited = editConfig(t, oldPackaged, map[string]string{
			"url: http://localhost:9091": "url: " + h.gw.url,
			"interval: 5s":               "interval: " + pushInterval,
			"grouping: {}":               "grouping: {acceptance: upgrade}",
		})
		c.writeFile(confPath, oldEdited, 0o644)
		c.must("systemctl", "restart", unit)
		waitUnit(t, c, unit, "active", "running")
		waitPush(t, h.gw, "hostpush_build_info", group, "version", prev.version)
		oldPID = c.show(unit, "MainPID")
		s.note("%s", firstLine(c.must("hostpush", "--version")))
	})

	s.run("upgrade "+prev.version+" to "+debVersion(h.p.version)+" in place: restarted, new version pushed, edits kept", func() {
		c.aptInstall("/root/" + filepath.Base(h.p.hostpush))
		expect(t, "installed version", c.pkgVersion("hostpush"), debVersion(h.p.version))
		waitUnit(t, c, unit, "active", "running")
		if pid := c.show(unit, "MainPID"); pid == oldPID {
			t.Fatalf("MainPID %s unchanged: the upgrade did not restart the service", pid)
		}
		expect(t, "is-enabled", c.isEnabled(unit), "enabled")
		// A PUT replaces the group: the old version's build_info goes.
		waitPush(t, h.gw, "hostpush_build_info", group, "version", h.p.version)
		if vals, err := h.gw.labelValues("hostpush_build_info", group, "version"); err != nil || len(vals) != 1 {
			t.Fatalf("hostpush_build_info%v versions after the upgrade: %v %v", group, vals, err)
		}
		if got := c.readFile(confPath); got != oldEdited {
			t.Fatalf("the upgrade changed the edited %s:\n%s", confPath, got)
		}
		// Where the packaged file changed too, dpkg keeps the admin's and
		// puts the new one beside it.
		dist := confPath + ".dpkg-dist"
		if oldPackaged != h.packaged {
			if !c.exists(dist) || c.readFile(dist) != h.packaged {
				t.Fatalf("%s is not the new packaged file", dist)
			}
			s.note("the packaged hostpush.yml changed: edits kept, new one in hostpush.yml.dpkg-dist")
		} else if c.exists(dist) {
			t.Fatalf("%s exists, but the packaged file did not change", dist)
		}
		s.note("%s", firstLine(c.must("hostpush", "--version")))
		if !strings.Contains(c.must("hostpush", "--version"), h.p.version) {
			t.Fatalf("hostpush --version does not name %s", h.p.version)
		}
	})

	s.run("apt-get purge after the upgrade: nothing left", func() {
		c.must("apt-get", "purge", "-y", "hostpush")
		h.expectPurged()
	})
}

var firstLineRe = regexp.MustCompile(`^[^\n]*`)

func firstLine(s string) string { return strings.TrimSpace(firstLineRe.FindString(s)) }
