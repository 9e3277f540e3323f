package hostload

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/prometheus/procfs"
)

// ErrLimit is returned (wrapped) by Start when a Spec would bring the host
// near one of its task limits.
var ErrLimit = errors.New("over a host limit")

// limit is one bound on the number of tasks (threads) the load may add.
type limit struct {
	name      string // as an operator knows it: "pid_max", "the cgroup's pids.max"
	where     string
	max, used int
}

// headroom is what the load always leaves free of a limit, so the host
// (and the test's own processes) can still start tasks.
func headroom(limit int) int { return max(limit/10, 64) }

// allows says how many more tasks fit under l with the headroom kept.
func (l limit) allows() int { return l.max - headroom(l.max) - l.used }

// checkLimits refuses to add need tasks when any limit would be crossed,
// naming the first such limit in one line.
func checkLimits(need int) error {
	ls, err := taskLimits()
	if err != nil {
		return fmt.Errorf("hostload: reading the host's task limits: %w", err)
	}
	for _, l := range ls {
		if need > l.allows() {
			return fmt.Errorf("hostload: %d more tasks (processes and threads) would cross %s %d at %s (%d in use, at most %d more with %d kept free): %w",
				need, l.name, l.max, l.where, l.used, max(l.allows(), 0), headroom(l.max), ErrLimit)
		}
	}
	return nil
}

// taskLimits reads the limits that apply to this process.
func taskLimits() ([]limit, error) {
	tasks, err := hostTasks()
	if err != nil {
		return nil, err
	}
	var ls []limit
	for _, k := range []struct{ name, file string }{
		{"pid_max", "/proc/sys/kernel/pid_max"},
		{"threads-max", "/proc/sys/kernel/threads-max"},
	} {
		n, err := readInt(k.file)
		if err != nil {
			return nil, err
		}
		ls = append(ls, limit{name: k.name, where: k.file, max: n, used: tasks})
	}
	cg, err := cgroupPidsLimits()
	if err != nil {
		return nil, err
	}
	ls = append(ls, cg...)
	nproc, err := nprocLimit()
	if err != nil {
		return nil, err
	}
	if nproc != nil {
		ls = append(ls, *nproc)
	}
	return ls, nil
}

// hostTasks is the number of tasks on the host: the kernel's own count,
// the last number of the fourth field of /proc/loadavg ("1/123").
func hostTasks() (int, error) {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0, err
	}
	return parseLoadavgTasks(b)
}

func parseLoadavgTasks(b []byte) (int, error) {
	f := strings.Fields(string(b))
	if len(f) < 4 {
		return 0, fmt.Errorf("/proc/loadavg: %q has no running/total field", b)
	}
	_, total, ok := strings.Cut(f[3], "/")
	n, err := strconv.Atoi(total)
	if !ok || err != nil {
		return 0, fmt.Errorf("/proc/loadavg: field %q is not running/total", f[3])
	}
	return n, nil
}

func readInt(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(string(bytes.TrimSpace(b)))
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	return n, nil
}

// cgroupPidsLimits reads pids.max and pids.current of this process's cgroup
// and each ancestor that sets one (cgroup v2, or the v1 pids hierarchy).
func cgroupPidsLimits() ([]limit, error) {
	self, err := procfs.Self()
	if err != nil {
		return nil, err
	}
	cgs, err := self.Cgroups()
	if err != nil {
		return nil, err
	}
	mounts, err := self.MountInfo()
	if err != nil {
		return nil, err
	}
	mount, dir := cgroupPidsDir(cgs, mounts)
	var ls []limit
	if mount == "" {
		return nil, nil // no pids controller: no limit of this kind
	}
	for d := dir; strings.HasPrefix(d, mount); d = filepath.Dir(d) {
		if l, ok := readPidsLimit(d); ok {
			ls = append(ls, l)
		}
		if d == mount {
			break
		}
	}
	return ls, nil
}

// cgroupPidsDir finds the mount point of the hierarchy that has the pids
// controller and the directory of this process's cgroup in it.
func cgroupPidsDir(cgs []procfs.Cgroup, mounts []*procfs.MountInfo) (mount, dir string) {
	for _, cg := range cgs {
		v2 := cg.HierarchyID == 0
		if !v2 && !slices.Contains(cg.Controllers, "pids") {
			continue
		}
		for _, m := range mounts {
			_, pids := m.SuperOptions["pids"]
			if v2 && m.FSType == "cgroup2" || !v2 && m.FSType == "cgroup" && pids {
				rel := strings.TrimPrefix(cg.Path, m.Root)
				return m.MountPoint, filepath.Join(m.MountPoint, rel)
			}
		}
	}
	return "", ""
}

// readPidsLimit reads one cgroup's pids.max; "max" (no limit) or a missing
// file yields no limit.
func readPidsLimit(dir string) (limit, bool) {
	b, err := os.ReadFile(filepath.Join(dir, "pids.max"))
	if err != nil {
		return limit{}, false
	}
	n, err := strconv.Atoi(string(bytes.TrimSpace(b)))
	if err != nil {
		return limit{}, false
	}
	used, err := readInt(filepath.Join(dir, "pids.current"))
	if err != nil {
		return limit{}, false
	}
	return limit{name: "the cgroup's pids.max", where: filepath.Join(dir, "pids.max"), max: n, used: used}, true
}

// nprocLimit is RLIMIT_NPROC, counted against the tasks of this real user.
// The kernel does not apply it to a process with CAP_SYS_RESOURCE or
// CAP_SYS_ADMIN (root, usually), nor when it is unlimited.
func nprocLimit() (*limit, error) {
	var rl syscall.Rlimit
	const rlimitNproc = 6
	if err := syscall.Getrlimit(rlimitNproc, &rl); err != nil {
		return nil, fmt.Errorf("getrlimit(RLIMIT_NPROC): %w", err)
	}
	if rl.Cur == ^uint64(0) || rl.Cur > 1<<31 {
		return nil, nil
	}
	exempt, err := hasResourceCaps()
	if err != nil || exempt {
		return nil, err
	}
	used, err := userTasks(os.Getuid())
	if err != nil {
		return nil, err
	}
	return &limit{name: "RLIMIT_NPROC", where: "ulimit -u", max: int(rl.Cur), used: used}, nil
}

// hasResourceCaps reports whether CAP_SYS_RESOURCE (24) or CAP_SYS_ADMIN
// (21) is in this process's effective set.
func hasResourceCaps() (bool, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return false, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if hex, ok := strings.CutPrefix(line, "CapEff:"); ok {
			caps, err := strconv.ParseUint(strings.TrimSpace(hex), 16, 64)
			if err != nil {
				return false, fmt.Errorf("/proc/self/status CapEff %q: %w", hex, err)
			}
			return caps&(1<<24|1<<21) != 0, nil
		}
	}
	return false, errors.New("/proc/self/status has no CapEff line")
}

// userTasks counts the threads of the processes whose real user is uid.
func userTasks(uid int) (int, error) {
	fs, err := procfs.NewDefaultFS()
	if err != nil {
		return 0, err
	}
	all, err := fs.AllProcs()
	if err != nil {
		return 0, err
	}
	n := 0
	for _, p := range all {
		st, err := p.NewStatus()
		if err != nil || st.UIDs[0] != uint64(uid) {
			continue // gone, or someone else's
		}
		if s, err := p.Stat(); err == nil {
			n += s.NumThreads
		}
	}
	return n, nil
}
