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
)

const (
	isUnit   = "imageserver.service"
	isListen = "127.0.0.1:3002" // the packaged listen address is :3002
	isImages = "/var/lib/imageserver/images"
)

func TestImageserverPackage(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("the acceptance test boots a container with systemd-nspawn: run it as root (make acceptance)")
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
	debs, _ := filepath.Glob(filepath.Join(repo, "dist", "imageserver_"+version+"_*.deb"))
	if len(debs) != 1 {
		t.Fatalf("want one dist/imageserver_%s_<arch>.deb, found %d: run make deb first", version, len(debs))
	}
	deb := debs[0]
	// The container shares the host's network: its port 3002 is the host's.
	if l, err := net.Listen("tcp", isListen); err != nil {
		t.Fatalf("port 3002 is in use on this host, and the container shares the host's network: %v", err)
	} else {
		l.Close()
	}
	s := newSteps(t)
	var c *container
	s.run("Debian 12 tree and boot", func() {
		tarball, _ := treeTarball(t, t.Logf)
		c = boot(t, tarball, "hpacc-imageserver")
	})
	t.Cleanup(func() {
		if t.Failed() && c != nil {
			out, _ := c.exec(30*time.Second, "journalctl", "--no-pager", "-n", "60", "-u", isUnit)
			t.Logf("journal of %s in the container:\n%s", isUnit, out)
		}
	})
	c.copyIn(deb, "/root/"+filepath.Base(deb))

	s.run("apt-get install ./"+filepath.Base(deb)+": enabled, active (running)", func() {
		c.must("apt-get", "install", "-y", "--no-install-recommends", "/root/"+filepath.Base(deb))
		out, _ := c.exec(time.Minute, "systemctl", "is-enabled", isUnit)
		expect(t, "is-enabled", strings.TrimSpace(out), "enabled")
		waitUnitNamed(t, c, isUnit, "active", "running")
		c.must("getent", "passwd", "imageserver")
	})

	s.run("systemctl enable --now returns 0; the image directory is read-only for the service", func() {
		if out, err := c.exec(time.Minute, "systemctl", "enable", "--now", isUnit); err != nil {
			t.Fatalf("systemctl enable --now: %v\n%s", err, out)
		}
		pid := strings.TrimSpace(c.must("systemctl", "show", "--value", "-p", "MainPID", isUnit))
		mi := c.must("cat", "/proc/"+pid+"/mountinfo")
		mp, opts := coveringMount(mi, isImages)
		if !strings.Contains(","+opts+",", ",ro,") {
			t.Fatalf("%s is on mount %s with options %q for the service: not read-only", isImages, mp, opts)
		}
		t.Logf("%s is on mount %s (%s) for the service", isImages, mp, opts)
	})

	s.run("fetch a 12 MP photo cropped to 1024x1024 with blur 4 from port 3002", func() {
		c.copyIn(testPhoto(t), isImages+"/photo.jpg")
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
		resp, err := http.Get("http://" + isListen + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		mb, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(mb), "imageserver_build_info{") {
			t.Fatalf("/metrics has no imageserver_build_info")
		}
	})

	s.run("systemctl stop: exit status 0", func() {
		if out, err := c.exec(time.Minute, "systemctl", "stop", isUnit); err != nil {
			t.Fatalf("systemctl stop: %v\n%s", err, out)
		}
		for prop, want := range map[string]string{"ActiveState": "inactive", "Result": "success", "ExecMainStatus": "0"} {
			expect(t, prop, strings.TrimSpace(c.must("systemctl", "show", "--value", "-p", prop, isUnit)), want)
		}
	})

	s.run("apt-get purge: files, links and user removed", func() {
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
	})
}

// waitUnitNamed waits up to 30 s for a unit to reach the states.
func waitUnitNamed(t *testing.T, c *container, u, active, sub string) {
	t.Helper()
	if err := waitFor(30*time.Second, func() error {
		a := strings.TrimSpace(c.must("systemctl", "show", "--value", "-p", "ActiveState", u))
		s := strings.TrimSpace(c.must("systemctl", "show", "--value", "-p", "SubState", u))
		if a != active || s != sub {
			return fmt.Errorf("%s is %s (%s), want %s (%s)", u, a, s, active, sub)
		}
		return nil
	}); err != nil {
		out, _ := c.exec(time.Minute, "systemctl", "status", "--no-pager", "-n", "30", u)
		t.Fatalf("%v\n%s", err, out)
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
