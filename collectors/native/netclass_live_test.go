package native

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/node_exporter/collector"
)

// TestNetClassOnThisHost: on the real /sys the collector keeps the files
// it reads open, and gives node_exporter's output, also from them.
func TestNetClassOnThisHost(t *testing.T) {
	c := newNetClass(t, "/sys", NetClassFlags{})
	if !c.keep {
		t.Fatal("/sys is not sysfs here: the kept-file path is not tested")
	}
	for range 3 {
		sameNetClass(t, c, "/sys", NetClassFlags{})
	}
	if c.openFiles() == 0 {
		t.Error("no files kept open on sysfs")
	}
}

// netns is a network namespace of the test's own, with a sysfs mounted
// in a mount namespace of its own, both held by a sleeping process: its
// sysfs shows the namespace's interfaces, and this process reads it
// through /proc/PID/root.
type netns struct {
	sys string
	pid int
}

func newNetns(t *testing.T) *netns {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create a network namespace")
	}
	for _, tool := range []string{"unshare", "nsenter", "ip"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%v (packaging/install-deps.sh test installs util-linux and iproute2)", err)
		}
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	cmd := exec.CommandContext(ctx, "unshare", "--net", "--mount", "--propagation", "private",
		"sh", "-c", `mount -t sysfs sysfs "$0" && echo ready && exec sleep 300`, dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "ready\n" {
		t.Fatalf("the namespace did not come up: %q %v", line, err)
	}
	return &netns{sys: fmt.Sprintf("/proc/%d/root%s", cmd.Process.Pid, dir), pid: cmd.Process.Pid}
}

// ip runs ip(8) in the namespace.
func (n *netns) ip(t *testing.T, args ...string) {
	t.Helper()
	out, err := exec.Command("nsenter", append([]string{"--target", fmt.Sprint(n.pid), "--net", "ip"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// TestNetClassFollowsInterfaces changes the interfaces of a namespace of
// its own between gathers, the ways operators' hosts change (veths of
// containers coming and going, links up and down, renames, an interface
// deleted and created again under its name) and compares the collector,
// whose files stay open, with node_exporter's after each change.
func TestNetClassFollowsInterfaces(t *testing.T) {
	ns := newNetns(t)
	c := newNetClass(t, ns.sys, NetClassFlags{})
	if !c.keep {
		t.Fatalf("%s is not sysfs", ns.sys)
	}
	same := func(step string, wantIfaces int) string {
		t.Helper()
		t.Logf("step: %s", step)
		got := sameNetClass(t, c, ns.sys, NetClassFlags{})
		if n := strings.Count(got, "node_network_up{"); n != wantIfaces {
			t.Fatalf("%s: %d interfaces reported, want %d:\n%s", step, n, wantIfaces, got)
		}
		return got
	}
	same("lo alone", 1)
	loFiles := c.openFiles()
	if loFiles == 0 {
		t.Fatal("no files kept open for lo")
	}
	ns.ip(t, "link", "add", "v0", "type", "veth", "peer", "name", "v1")
	same("a veth pair added", 3)
	ns.ip(t, "link", "set", "v0", "up", "mtu", "9000")
	ns.ip(t, "link", "set", "v1", "up", "alias", "uplink of v0")
	out := same("both up, an MTU and an alias changed", 3)
	if !strings.Contains(out, `node_network_mtu_bytes{device="v0"} 9000`) || !strings.Contains(out, `ifalias="uplink of v0"`) {
		t.Fatalf("kept files did not show the new values:\n%s", out)
	}
	// Swapped names: the kept files under each name now belong to the
	// other device; only the directory's inode tells.
	for _, step := range [][]string{{"v0", "down"}, {"v1", "down"}, {"v0", "name", "tmp"}, {"v1", "name", "v0"}, {"tmp", "name", "v1"}} {
		ns.ip(t, append([]string{"link", "set"}, step...)...)
	}
	same("names swapped", 3)
	ns.ip(t, "link", "del", "v0")
	same("the pair deleted", 1)
	if n := c.openFiles(); n != loFiles {
		t.Errorf("%d files kept after the pair was deleted, want lo's %d", n, loFiles)
	}
	ns.ip(t, "link", "add", "v0", "type", "veth", "peer", "name", "v1")
	ns.ip(t, "link", "set", "v1", "address", "02:00:00:00:00:01")
	same("the pair created again under the same names", 3)

	// Churn: pairs created and deleted while gathers run. A gather may
	// meet an interface vanishing under it (no data, as node_exporter
	// reports it); no other error, and afterwards the same output again.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var churnErr error
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			a, b := fmt.Sprintf("c%d", i%4), fmt.Sprintf("d%d", i%4)
			add := exec.Command("nsenter", "--target", fmt.Sprint(ns.pid), "--net", "ip", "link", "add", a, "type", "veth", "peer", "name", b)
			del := exec.Command("nsenter", "--target", fmt.Sprint(ns.pid), "--net", "ip", "link", "del", a)
			if i%8 < 4 {
				churnErr = add.Run()
			} else {
				churnErr = del.Run()
			}
			if churnErr != nil {
				return
			}
		}
	})
	noData := 0
	for range 40 {
		time.Sleep(5 * time.Millisecond)
		_, err := gatherText(t, c)
		switch {
		case errors.Is(err, ErrNoData):
			noData++
		case err != nil:
			close(stop)
			wg.Wait()
			t.Fatalf("a gather during the churn failed: %v", err)
		}
	}
	close(stop)
	wg.Wait()
	if churnErr != nil {
		t.Fatalf("churning the interfaces: %v", churnErr)
	}
	t.Logf("40 gathers during the churn, %d met an interface vanishing", noData)
	for i := range 4 { // those the churn left
		_ = exec.Command("nsenter", "--target", fmt.Sprint(ns.pid), "--net", "ip", "link", "del", fmt.Sprintf("c%d", i)).Run()
	}
	same("after the churn", 3)
	if n, held := c.openFiles(), c.kept(); n != held {
		t.Errorf("the interfaces hold %d descriptors, the budget counts %d", held, n)
	}
}

// kept counts the descriptors the collector's interfaces hold.
func (c *NetClass) kept() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, d := range c.devs {
		for _, f := range d.files {
			if f.fd >= 0 {
				n++
			}
		}
	}
	return n
}

// BenchmarkNetClass compares one Update of this collector with one of
// node_exporter's on this host's /sys, both warm. cpu-ms/op as in
// BenchmarkProcesses; run with -cpu 1.
//
//	go test ./collectors/native -run '^$' -bench NetClass -cpu 1 -benchtime 300x
func BenchmarkNetClass(b *testing.B) {
	b.Run("impl=hostpush", func(b *testing.B) { benchUpdate(b, newNetClass(b, "/sys", NetClassFlags{})) })
	b.Run("impl=node_exporter", func(b *testing.B) {
		netFlags(b, "/sys", NetClassFlags{})
		c, err := collector.NewNetClassCollector(discard)
		if err != nil {
			b.Fatal(err)
		}
		benchUpdate(b, c)
	})
}
