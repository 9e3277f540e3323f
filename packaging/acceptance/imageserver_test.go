//go:build acceptance

package acceptance

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	_ "image/jpeg"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hostpush/hostpush/internal/procs"
)

const (
	isUnit   = "imageserver.service"
	isListen = "127.0.0.1:3002" // the packaged listen address is :3002
	isImages = "/var/lib/imageserver/images"
)

func TestImageserverPackage(t *testing.T) {
	p := setup(t, false)
	for _, r := range releases {
		t.Run(r.suite, func(t *testing.T) {
			// The container shares the host's network: its port 3002 is the host's.
			if l, err := net.Listen("tcp", isListen); err != nil {
				t.Fatalf("port 3002 is in use on this host, and the container shares the host's network: %v", err)
			} else {
				l.Close()
			}
			s := newSteps(t, "imageserver on "+r.String())
			var c *container
			s.run(r.name+" tree and boot", func() {
				tarball, _ := treeTarball(t, r)
				c = boot(t, tarball, machineName("hpacc-is-"+r.suite))
				s.note("systemd %s, %s %s", c.pkgVersion("systemd"), r.libvips, c.pkgVersion(r.libvips))
			})
			t.Cleanup(func() {
				if t.Failed() && c != nil {
					out, _ := c.exec(30*time.Second, "journalctl", "--no-pager", "-n", "60", "-u", isUnit)
					t.Logf("journal of %s in the container:\n%s", isUnit, out)
				}
			})
			for _, deb := range []string{p.imageserv, p.prev.imageserver} {
				c.copyIn(deb, "/root/"+filepath.Base(deb))
			}
			imageserverSteps(t, s, c, p)
			imageserverUpgrade(t, s, c, p)
		})
	}
}

func imageserverSteps(t *testing.T, s *steps, c *container, p *packages) {
	deb := filepath.Base(p.imageserv)
	s.run("apt-get install ./"+deb+": enabled, active (running)", func() {
		c.aptInstall("/root/" + deb)
		expect(t, "is-enabled", c.isEnabled(isUnit), "enabled")
		waitUnit(t, c, isUnit, "active", "running")
		c.must("getent", "passwd", "imageserver")
	})

	s.run("systemctl enable --now returns 0; the image directory is read-only for the service", func() {
		if out, err := c.exec(time.Minute, "systemctl", "enable", "--now", isUnit); err != nil {
			t.Fatalf("systemctl enable --now: %v\n%s", err, out)
		}
		mi := c.must("cat", "/proc/"+c.show(isUnit, "MainPID")+"/mountinfo")
		mp, opts := coveringMount(mi, isImages)
		if !strings.Contains(","+opts+",", ",ro,") {
			t.Fatalf("%s is on mount %s with options %q for the service: not read-only", isImages, mp, opts)
		}
		t.Logf("%s is on mount %s (%s) for the service", isImages, mp, opts)
	})

	s.run("fetch a 12 MP photo cropped to 1024x1024 with blur 4 from port 3002", func() {
		c.copyIn(testPhoto(t), isImages+"/photo.jpg")
		fetchPhoto(t)
		expect(t, "imageserver_build_info version", imageserverVersion(t), p.version)
	})

	s.run("systemctl stop: exit status 0", func() {
		if out, err := c.exec(time.Minute, "systemctl", "stop", isUnit); err != nil {
			t.Fatalf("systemctl stop: %v\n%s", err, out)
		}
		for prop, want := range map[string]string{"ActiveState": "inactive", "Result": "success", "ExecMainStatus": "0"} {
			expect(t, prop, c.show(isUnit, prop), want)
		}
	})

	s.run("apt-get purge: files, links and user removed", func() { purgeImageserver(t, c) })
}

// imageserverUpgrade installs the previous release's package and upgrades
// it in place to the current one.
func imageserverUpgrade(t *testing.T, s *steps, c *container, p *packages) {
	var oldPID string
	s.run("previous release "+p.prev.version+" (built from "+previousCommit+"): install, serve the photo", func() {
		c.aptInstall("/root/" + filepath.Base(p.prev.imageserver))
		expect(t, "installed version", c.pkgVersion("imageserver"), p.prev.version)
		waitUnit(t, c, isUnit, "active", "running")
		c.copyIn(testPhoto(t), isImages+"/photo.jpg")
		fetchPhoto(t)
		expect(t, "imageserver_build_info version", imageserverVersion(t), p.prev.version)
		oldPID = c.show(isUnit, "MainPID")
	})

	s.run("upgrade "+p.prev.version+" to "+debVersion(p.version)+" in place: restarted, new version serves, images kept", func() {
		c.aptInstall("/root/" + filepath.Base(p.imageserv))
		expect(t, "installed version", c.pkgVersion("imageserver"), debVersion(p.version))
		waitUnit(t, c, isUnit, "active", "running")
		if pid := c.show(isUnit, "MainPID"); pid == oldPID {
			t.Fatalf("MainPID %s unchanged: the upgrade did not restart the service", pid)
		}
		if !c.exists(isImages + "/photo.jpg") {
			t.Fatalf("the upgrade removed the admin's image %s/photo.jpg", isImages)
		}
		fetchPhoto(t)
		expect(t, "imageserver_build_info version", imageserverVersion(t), p.version)
	})

	s.run("apt-get purge after the upgrade: nothing left", func() { purgeImageserver(t, c) })
}

// fetchPhoto requests the seed transform of photo.jpg and checks the result.
func fetchPhoto(t *testing.T) {
	t.Helper()
	url := "http://" + isListen + "/assets/images/photo.jpg?fit=crop&w=1024&h=1024&crop=center&blur=4"
	var body []byte
	var ctype string
	if err := waitFor(20*time.Second, func() error {
		resp, err := http.Get(url)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, _ = io.ReadAll(resp.Body)
		ctype = resp.Header.Get("Content-Type")
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s: %s: %.200s", url, resp.Status, body)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	got, format, err := image.Decode(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("decoding the response (%s, %d bytes): %v", ctype, len(body), err)
	}
	if sz := got.Bounds().Size(); sz.X != 1024 || sz.Y != 1024 {
		t.Fatalf("got a %dx%d %s, want 1024x1024", sz.X, sz.Y, format)
	}
	t.Logf("GET %s: 200 %s, %d bytes, %s 1024x1024", url, ctype, len(body), format)
}

// imageserverVersion returns the version label of imageserver_build_info
// on the server's /metrics.
func imageserverVersion(t *testing.T) string {
	t.Helper()
	fams, err := procs.Scrape(t.Context(), "http://"+isListen+"/metrics")
	if err != nil {
		t.Fatal(err)
	}
	mf := fams["imageserver_build_info"]
	if mf == nil || len(mf.GetMetric()) != 1 {
		t.Fatalf("/metrics has no single imageserver_build_info: %v", mf)
	}
	for _, lp := range mf.GetMetric()[0].GetLabel() {
		if lp.GetName() == "version" {
			return lp.GetValue()
		}
	}
	t.Fatal("imageserver_build_info has no version label")
	return ""
}

// purgeImageserver purges the package and checks nothing of it is left.
func purgeImageserver(t *testing.T, c *container) {
	t.Helper()
	// The admin's images are theirs: dpkg keeps a directory that is not
	// empty. Remove the test image so the purge can remove the directory.
	if err := os.Remove(c.path(isImages + "/photo.jpg")); err != nil {
		t.Fatal(err)
	}
	c.must("apt-get", "purge", "-y", "imageserver")
	var left []string
	for _, p := range []string{"/usr/bin/imageserver", "/lib/systemd/system/imageserver.service", "/etc/imageserver",
		"/etc/default/imageserver", "/var/lib/imageserver/images", "/usr/share/doc/imageserver",
		"/etc/systemd/system/multi-user.target.wants/imageserver.service", "/etc/systemd/system/imageserver.service",
		"/var/lib/systemd/deb-systemd-helper-enabled/imageserver.service.dsh-also"} {
		if c.exists(p) {
			left = append(left, p)
		}
	}
	if len(left) > 0 {
		t.Fatalf("left after purge: %s", strings.Join(left, " "))
	}
	if out, err := c.exec(time.Minute, "getent", "passwd", "imageserver"); err == nil {
		t.Fatalf("user imageserver still exists after purge: %s", out)
	}
}

// coveringMount returns the mount point and mount options of the last
// mount in mountinfo whose mount point holds path (the one a lookup sees).
func coveringMount(mountinfo, path string) (mp, opts string) {
	for _, line := range strings.Split(mountinfo, "\n") {
		// Fields: id parent major:minor root mountpoint options ...
		f := strings.Fields(line)
		if len(f) < 6 {
			continue
		}
		m := f[4]
		if m == path || m == "/" || strings.HasPrefix(path, m+"/") {
			if len(m) >= len(mp) {
				mp, opts = m, f[5]
			}
		}
	}
	return mp, opts
}

// testPhoto returns the path of a real 12 MP photo (4032x3024 JPEG with EXIF
// orientation and an ICC profile), the one the image server's benchmarks
// use: a test file of the Go module github.com/h2non/bimg, fetched through
// the Go module proxy into the module cache.
func testPhoto(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "mod", "download", "-json", "github.com/h2non/bimg@v1.1.9").Output()
	if err != nil {
		t.Fatalf("go mod download github.com/h2non/bimg@v1.1.9: %v", err)
	}
	var m struct{ Dir, Error string }
	if err := json.Unmarshal(out, &m); err != nil || m.Dir == "" {
		t.Fatalf("go mod download github.com/h2non/bimg@v1.1.9: %v %s", err, m.Error)
	}
	return filepath.Join(m.Dir, "testdata", "test_exif_full.jpg")
}
