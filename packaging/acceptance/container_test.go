//go:build acceptance

package acceptance

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// run runs a command on the host and fails the test with its output when it
// fails.
func run(t *testing.T, timeout time.Duration, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	out, err := killable(exec.CommandContext(ctx, name, args...)).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// killable makes a command's timeout end it for sure: it runs in its own
// process group, which is killed as a whole (nsenter forks the command it
// runs, and a surviving child would hold the output pipe open), and Wait
// returns at most 5 s after the kill. It is also killed when the test
// binary dies (go test's -timeout, Ctrl-C), which runs no cleanups.
func killable(cmd *exec.Cmd) *exec.Cmd {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// container is a Debian tree booted with systemd-nspawn.
type container struct {
	t       *testing.T
	name    string
	dir     string
	nspawn  *exec.Cmd
	exited  chan struct{}
	console *os.File
	pid     int // the container's systemd, as seen from the host
}

// boot extracts the tarball into a fresh directory and boots it. The
// container shares the host's network, so its 127.0.0.1 is the host's.
func boot(t *testing.T, tarball, name string) *container {
	t.Helper()
	removeStaleTrees(t)
	dir, err := os.MkdirTemp("/var/tmp", treePrefix)
	if err != nil {
		t.Fatal(err)
	}
	c := &container{t: t, name: name, dir: dir, exited: make(chan struct{})}
	t.Cleanup(func() {
		c.shutdown()
		os.RemoveAll(dir)
	})
	if err := os.Chmod(dir, 0o755); err != nil { // the container's /
		t.Fatal(err)
	}
	start := time.Now()
	run(t, 5*time.Minute, "tar", "-C", dir, "-xf", tarball)
	t.Logf("extracted the tree in %.1fs", time.Since(start).Seconds())
	// What an installed Debian has and debootstrap leaves to the installer.
	// trixie's tree has no /etc/hosts at all, and without "localhost" in it
	// Go's resolver cannot resolve the name.
	c.writeFile("/etc/hostname", name+"\n", 0o644)
	c.writeFile("/etc/hosts", "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t"+name+"\n", 0o644)

	c.console, err = os.Create(filepath.Join(os.TempDir(), name+".console.log"))
	if err != nil {
		t.Fatal(err)
	}
	// --keep-unit --register=no: this machine has no systemd-machined.
	// --capability=CAP_SYS_TIME: without it nspawn's own seccomp filter makes
	// adjtimex(2) fail for every process in the container, so the timex
	// collector could not be compared; the unit itself drops all
	// capabilities, so it still cannot set the clock.
	c.nspawn = exec.Command("systemd-nspawn", "-D", dir, "-b", "-M", name,
		"--register=no", "--keep-unit", "--console=read-only", "--capability=CAP_SYS_TIME")
	c.nspawn.Stdout, c.nspawn.Stderr = c.console, c.console
	// Should the test binary die without its cleanups (go test's -timeout,
	// Ctrl-C), nspawn gets SIGTERM, on which it powers the container off.
	c.nspawn.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := c.nspawn.Start(); err != nil {
		t.Fatalf("starting systemd-nspawn: %v", err)
	}
	go func() { c.nspawn.Wait(); close(c.exited) }()

	deadline := time.Now().Add(30 * time.Second)
	for c.pid == 0 {
		select {
		case <-c.exited:
			t.Fatalf("systemd-nspawn exited during boot:\n%s", c.consoleLog())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no systemd below systemd-nspawn (pid %d) after 30s:\n%s", c.nspawn.Process.Pid, c.consoleLog())
		}
		c.pid = childNamed(c.nspawn.Process.Pid, "systemd")
		time.Sleep(50 * time.Millisecond)
	}
	// is-system-running --wait returns once the boot is done: "running", or
	// "degraded" when some unit of the minimal tree failed.
	// Until systemd has set up its private socket, systemctl cannot connect.
	if err := waitFor(time.Minute, func() error {
		out, _ := c.exec(20*time.Second, "systemctl", "is-system-running", "--wait")
		if s := strings.TrimSpace(out); s != "running" && s != "degraded" {
			return fmt.Errorf("is-system-running says %q", s)
		}
		return nil
	}); err != nil {
		t.Fatalf("container did not boot: %v\n%s", err, c.consoleLog())
	}
	return c
}

// treePrefix names the extracted trees in /var/tmp.
const treePrefix = "hostpush-acceptance-"

// removeStaleTrees deletes the trees of earlier runs that were killed before
// their cleanup (the test binary's death powers the container off, but
// nothing removes its 500 MB tree): those no process names on its command
// line and that have not changed for two minutes, so that a run extracting
// its tree right now keeps it.
func removeStaleTrees(t *testing.T) {
	dirs, _ := filepath.Glob(filepath.Join("/var/tmp", treePrefix+"*"))
	if len(dirs) == 0 {
		return
	}
	var cmdlines []string
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		if b, err := os.ReadFile(p); err == nil {
			cmdlines = append(cmdlines, string(b))
		}
	}
	for _, d := range dirs {
		fi, err := os.Stat(d)
		if err != nil || time.Since(fi.ModTime()) < 2*time.Minute {
			continue
		}
		inUse := false
		for _, cl := range cmdlines {
			inUse = inUse || strings.Contains(cl, d)
		}
		if !inUse {
			t.Logf("removing %s, left by a run that was killed", d)
			os.RemoveAll(d)
		}
	}
}

// childNamed returns the pid of a child of ppid whose comm is name, or 0.
func childNamed(ppid int, name string) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", ppid, ppid))
	if err != nil {
		return 0
	}
	for _, f := range strings.Fields(string(b)) {
		pid, _ := strconv.Atoi(f)
		comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		if strings.TrimSpace(string(comm)) == name {
			return pid
		}
	}
	return 0
}

func (c *container) consoleLog() string {
	b, _ := os.ReadFile(c.console.Name())
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// exec runs a command inside the container (its mount, UTS, IPC and PID
// namespaces) with a clean environment and returns its combined output.
func (c *container) exec(timeout time.Duration, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	full := append([]string{"-t", strconv.Itoa(c.pid), "-m", "-u", "-i", "-p", "--",
		"/usr/bin/env", "-i", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"LANG=C.UTF-8", "DEBIAN_FRONTEND=noninteractive", "SYSTEMD_PAGER=", "TERM=dumb"}, args...)
	out, err := killable(exec.CommandContext(ctx, "nsenter", full...)).CombinedOutput()
	if ctx.Err() != nil {
		err = fmt.Errorf("%w (timed out after %s)", err, timeout)
	}
	return string(out), err
}

// must runs a command inside the container and fails the test when it fails.
func (c *container) must(args ...string) string {
	c.t.Helper()
	out, err := c.exec(3*time.Minute, args...)
	if err != nil {
		c.t.Fatalf("in the container: %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// show returns one property of a unit, as systemctl show prints it.
func (c *container) show(unit, prop string) string {
	c.t.Helper()
	return strings.TrimSpace(c.must("systemctl", "show", "--value", "-p", prop, unit))
}

// path maps a path inside the container to the host.
func (c *container) path(p string) string { return filepath.Join(c.dir, p) }

func (c *container) writeFile(p, content string, mode os.FileMode) {
	c.t.Helper()
	if err := os.MkdirAll(filepath.Dir(c.path(p)), 0o755); err != nil {
		c.t.Fatal(err)
	}
	if err := os.WriteFile(c.path(p), []byte(content), mode); err != nil {
		c.t.Fatal(err)
	}
}

func (c *container) readFile(p string) string {
	c.t.Helper()
	b, err := os.ReadFile(c.path(p))
	if err != nil {
		c.t.Fatal(err)
	}
	return string(b)
}

func (c *container) exists(p string) bool {
	_, err := os.Lstat(c.path(p))
	return err == nil
}

// copyIn copies a host file to a path inside the container. /tmp in the
// container is a fresh tmpfs, so files go to /root or /var/tmp.
func (c *container) copyIn(src, dst string) {
	c.t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		c.t.Fatal(err)
	}
	c.writeFile(dst, string(b), 0o644)
}

// shutdown powers the container off and waits for systemd-nspawn to exit,
// killing it after 20 s.
func (c *container) shutdown() {
	if c.nspawn == nil || c.nspawn.Process == nil {
		return
	}
	select {
	case <-c.exited:
		return
	default:
	}
	if c.pid != 0 {
		c.exec(10*time.Second, "systemctl", "poweroff", "--no-block")
	}
	select {
	case <-c.exited:
	case <-time.After(20 * time.Second):
		// Killing the container's init ends every process in it.
		if c.pid != 0 {
			syscall.Kill(c.pid, syscall.SIGKILL)
		}
		select {
		case <-c.exited:
		case <-time.After(5 * time.Second):
			c.nspawn.Process.Kill()
			<-c.exited
		}
	}
	if c.console != nil {
		c.console.Close()
		os.Remove(c.console.Name())
	}
}

// waitFor polls cond every 200 ms until it returns nil or the timeout
// passes, and returns the last error.
func waitFor(timeout time.Duration, cond func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("after %s: %w", timeout, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
