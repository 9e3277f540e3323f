//go:build acceptance

package acceptance

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

const (
	markerFamily = "acceptance_textfile_marker"
	markerFile   = textfileDir + "/acceptance.prom"
)

// writeMarker drops a .prom file into the textfile directory the way
// collector scripts do (sponge, or a temporary file renamed into place):
// root-owned, mode 0644, never seen half-written.
func (h *hostpushRun) writeMarker(value int) {
	h.t.Helper()
	body := fmt.Sprintf("# HELP %s Written by the acceptance test into the textfile directory.\n# TYPE %s gauge\n%s{release=%q} %d\n",
		markerFamily, markerFamily, markerFamily, h.r.suite, value)
	tmp := textfileDir + "/.acceptance.prom.tmp"
	h.c.writeFile(tmp, body, 0o644)
	if err := os.Rename(h.c.path(tmp), h.c.path(markerFile)); err != nil {
		h.t.Fatal(err)
	}
}

func (h *hostpushRun) removeMarker() {
	h.t.Helper()
	if err := os.Remove(h.c.path(markerFile)); err != nil && !os.IsNotExist(err) {
		h.t.Fatal(err)
	}
}

// waitMarker waits for the marker's value at the gateway, in the host's
// group, and for the textfile collector to report no error.
func (h *hostpushRun) waitMarker(value int) {
	h.t.Helper()
	if err := waitFor(30*time.Second, func() error {
		got, err := h.gw.samples(markerFamily, h.instance, "release")
		if err != nil {
			return err
		}
		if v, ok := got[h.r.suite]; !ok || v != float64(value) {
			return fmt.Errorf("%s{release=%q} in group %v at the gateway: %v, want %d", markerFamily, h.r.suite, h.instance, got, value)
		}
		errs, err := h.gw.samples("node_textfile_scrape_error", h.instance, "")
		if err != nil {
			return err
		}
		if v, ok := errs[""]; !ok || v != 0 {
			return fmt.Errorf("node_textfile_scrape_error in group %v: %v, want 0", h.instance, errs)
		}
		return nil
	}); err != nil {
		h.t.Fatal(err)
	}
}

func (h *hostpushRun) textfile() {
	t, c := h.t, h.c
	h.s.run("a .prom file in "+textfileDir+" reaches the gateway", func() {
		expect(t, textfileDir, c.stat(textfileDir), "root:root 755")
		if !strings.Contains(c.readFile(confPath), "textfile.directory: "+textfileDir) {
			t.Fatalf("the packaged %s does not set collectors.flags.textfile.directory: %s", confPath, textfileDir)
		}
		h.writeMarker(1)
		h.waitMarker(1)
		// A changed file is pushed on the next tick, as node_exporter
		// serves it on the next scrape.
		h.writeMarker(2)
		h.waitMarker(2)
	})
}

// nodeExporterBeside installs Debian's prometheus-node-exporter next to
// hostpush: both ship the textfile directory, and neither may take it from
// the other or change its owner or mode.
func (h *hostpushRun) nodeExporterBeside() {
	t, c := h.t, h.c
	h.s.run("prometheus-node-exporter beside it: one textfile directory, kept through its purge", func() {
		parent := c.stat("/var/lib/prometheus")
		// Its service would listen on the host's :9100 (the container shares
		// the network): policy-rc.d keeps deb-systemd-invoke from starting it.
		c.writeFile("/usr/sbin/policy-rc.d", "#!/bin/sh\nexit 101\n", 0o755)
		c.must("apt-get", "install", "-y", "--no-install-recommends", "--no-download", "prometheus-node-exporter")
		if err := os.Remove(c.path("/usr/sbin/policy-rc.d")); err != nil {
			t.Fatal(err)
		}
		h.s.note("prometheus-node-exporter %s", c.pkgVersion("prometheus-node-exporter"))
		owners := c.must("dpkg-query", "-S", textfileDir)
		if !strings.Contains(owners, "hostpush") || !strings.Contains(owners, "prometheus-node-exporter") {
			t.Fatalf("dpkg-query -S %s: %s; want both packages", textfileDir, owners)
		}
		// dpkg unpacks the directory again on a reinstall; it must not
		// reset what the other package's postinst set.
		c.aptInstall("--reinstall", "/root/"+filepath.Base(h.p.hostpush))
		waitUnit(t, c, unit, "active", "running")
		expect(t, "/var/lib/prometheus", c.stat("/var/lib/prometheus"), parent)
		expect(t, textfileDir, c.stat(textfileDir), "root:root 755")
		h.writeMarker(3)
		h.waitMarker(3)

		// Its purge runs rm -rf on the directory (and the files in it);
		// hostpush's dpkg trigger puts the directory back.
		c.must("apt-get", "purge", "-y", "prometheus-node-exporter")
		if !c.exists(textfileDir) {
			t.Fatalf("%s is gone after purging prometheus-node-exporter", textfileDir)
		}
		expect(t, textfileDir+" after the purge", c.stat(textfileDir), "root:root 755")
		expect(t, "dpkg-query -S "+textfileDir, strings.TrimSpace(c.must("dpkg-query", "-S", textfileDir)), "hostpush: "+textfileDir)
		h.writeMarker(4)
		h.waitMarker(4)
	})
}
