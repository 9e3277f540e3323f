package hostload

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/procfs"
	"golang.org/x/sys/unix"
)

// MaxOvershoot is how many threads more than asked for Start may leave.
// It adds the last threads one at a time, but a Go runtime sometimes
// starts a spare thread along with the one asked for, and threads cannot
// be taken back without a thread more (see child).
const MaxOvershoot = 3

// stopTimeout is how long Stop waits for children to leave on their own
// before it kills them.
const stopTimeout = 10 * time.Second

// Load is a running set of load children. Its methods may be called from
// any goroutine.
type Load struct {
	spec Spec
	exe  string
	id   int64

	// The children exit at end of file on life; its write end is held
	// only here, so it closes when this process dies, however it dies.
	lifeR, lifeW   *os.File
	readyR, readyW *os.File
	growR, growW   *os.File      // a byte written here becomes one more thread
	ready          chan struct{} // one value per byte a child sent

	spawns chan spawnReq
	quit   chan struct{} // stops the churn loop
	wg     sync.WaitGroup

	mu       sync.Mutex
	children []*proc // oldest first
	started  int     // processes started so far, replacements included
	stopped  bool

	stopOnce   sync.Once
	stopErr    error
	unwatchCtx func() bool
}

// proc is one child process.
type proc struct {
	cmd  *exec.Cmd
	done chan struct{}
}

type spawnReq struct {
	cmd *exec.Cmd
	err chan error
}

// Start adds spec's processes and threads to the host and returns once
// the children hold spec.Threads threads (up to MaxOvershoot more). The load ends with Stop,
// when ctx is done, or at spec.Lifetime, whichever is first.
func Start(ctx context.Context, spec Spec) (*Load, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	if _, ok := os.LookupEnv(envChild); ok {
		return nil, errors.New("hostload: Start called inside a load child: the binary's main or TestMain must call hostload.MaybeChild first")
	}
	spec = spec.withDefaults()
	if err := checkLimits(spec.Threads); err != nil {
		return nil, err
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("hostload: finding this binary to start children: %w", err)
	}
	l := &Load{spec: spec, exe: exe, id: rand.Int64N(1 << 62), ready: make(chan struct{}, spec.Procs+1024),
		spawns: make(chan spawnReq), quit: make(chan struct{})}
	if err := l.openPipes(); err != nil {
		return nil, err
	}
	l.wg.Add(2)
	go l.spawner()
	go l.readReady()
	if err := l.startAll(ctx); err != nil {
		return nil, errors.Join(err, l.Stop())
	}
	l.unwatchCtx = context.AfterFunc(ctx, func() { _ = l.Stop() })
	if spec.Churn.ProcsPerSec > 0 {
		l.wg.Add(1)
		go l.churn()
	}
	return l, nil
}

func (l *Load) openPipes() error {
	for _, p := range []struct{ r, w **os.File }{{&l.lifeR, &l.lifeW}, {&l.readyR, &l.readyW}, {&l.growR, &l.growW}} {
		var err error
		if *p.r, *p.w, err = os.Pipe(); err != nil {
			l.closePipes()
			return fmt.Errorf("hostload: pipe: %w", err)
		}
	}
	return nil
}

func (l *Load) closePipes() {
	for _, f := range []*os.File{l.lifeR, l.lifeW, l.readyR, l.readyW, l.growR, l.growW} {
		if f != nil {
			f.Close()
		}
	}
}

// spawner starts every child from one thread locked for the load's
// lifetime: Pdeathsig fires when the thread that forked a child ends, and
// a thread of the Go runtime's pool may end at any time.
func (l *Load) spawner() {
	defer l.wg.Done()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	for r := range l.spawns {
		r.err <- r.cmd.Start()
	}
}

// readReady turns the children's readiness bytes into values on l.ready.
// It ends when Stop closes the pipe's write end and the last child is
// gone.
func (l *Load) readReady() {
	defer l.wg.Done()
	buf := make([]byte, 512)
	for {
		n, err := l.readyR.Read(buf)
		for range n {
			select {
			case l.ready <- struct{}{}:
			default: // nobody waits for replacements to settle
			}
		}
		if err != nil {
			return
		}
	}
}

// startAll starts the initial children and waits for each to settle.
func (l *Load) startAll(ctx context.Context) error {
	// Each child settles one thread short of its share; topUp then adds
	// threads one by one until the total is right, since a child's Go
	// runtime sometimes starts one thread more than asked for.
	for i := range l.spec.Procs {
		if err := l.spawn(max(l.spec.perChild(i)-1, 1)); err != nil {
			return err
		}
	}
	// Starting a copy of a large binary costs a few ms of CPU; allow
	// plenty on a busy 2-core machine.
	timeout := 30*time.Second + time.Duration(l.spec.Procs)*20*time.Millisecond
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for got := 0; got < l.spec.Procs; got++ {
		select {
		case <-l.ready:
		case <-ctx.Done():
			return fmt.Errorf("hostload: starting children: %w", ctx.Err())
		case <-timer.C:
			return fmt.Errorf("hostload: only %d of %d children settled within %s (does %s call hostload.MaybeChild first?)",
				got, l.spec.Procs, timeout, l.exe)
		}
	}
	l.topUp(ctx)
	return nil
}

// topUp adds threads until the children hold spec.Threads together,
// measuring after each round. Near the end it adds one at a time, so it
// overshoots by at most the one extra thread a Go runtime may start.
func (l *Load) topUp(ctx context.Context) {
	for range 300 {
		missing := l.spec.Threads - l.stableThreads()
		if missing <= 0 || ctx.Err() != nil {
			return
		}
		add := 1
		if missing > 16 {
			add = missing / 2
		}
		if _, err := l.growW.Write(make([]byte, add)); err != nil {
			return
		}
	}
}

// stableThreads waits until the children's thread count has held still
// for 20 ms (new holders take a moment to block and make the runtime start
// a thread) and returns it.
func (l *Load) stableThreads() int {
	last, since := l.Counts().Threads, time.Now()
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); {
		time.Sleep(2 * time.Millisecond)
		n := l.Counts().Threads
		if n != last {
			last, since = n, time.Now()
		} else if time.Since(since) >= 20*time.Millisecond {
			break
		}
	}
	return last
}

// threadsByPid reads each child's thread count from /proc/PID/stat.
func (l *Load) threadsByPid() map[int]int {
	counts := map[int]int{}
	for _, pid := range l.Pids() {
		if p, err := procfs.NewProc(pid); err == nil {
			if st, err := p.Stat(); err == nil {
				counts[pid] = st.NumThreads
			}
		}
	}
	return counts
}

// spawn starts one child with the given thread count.
func (l *Load) spawn(threads int) error {
	cfg := childConfig{load: l.id, threads: threads, deadline: time.Now().Add(l.spec.Lifetime)}
	if r := l.spec.Churn.ThreadsPerSec; r > 0 {
		cfg.churn = time.Duration(float64(l.spec.Procs) / r * float64(time.Second))
	}
	cmd := exec.Command(l.exe)
	cmd.Args = []string{"hostload-child"}
	cmd.Env = append(os.Environ(), envChild+"="+cfg.env(), "GOMAXPROCS=1")
	cmd.Stderr = os.Stderr // a child speaks only when it fails
	cmd.ExtraFiles = []*os.File{l.lifeR, l.readyW, l.growR}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopped {
		return errors.New("hostload: stopped")
	}
	r := spawnReq{cmd: cmd, err: make(chan error, 1)}
	l.spawns <- r
	if err := <-r.err; err != nil {
		return fmt.Errorf("hostload: starting child %d: %w", l.started+1, err)
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	exited, err := exitWatch(cmd.Process.Pid)
	if err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return fmt.Errorf("hostload: watching child %d: %w", cmd.Process.Pid, err)
	}
	l.children = append(l.children, p)
	l.started++
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		exited()
		close(p.done)
		l.forget(p)
	}()
	return nil
}

// exitWatch returns a function that waits until the child pid has exited
// and reaps it. The wait parks in the runtime's poller on a pidfd, where
// exec.Cmd.Wait would hold an OS thread in wait4 for every child: with
// thousands of children, this process would hold thousands of threads,
// which the Go runtime keeps after the children are gone, and which a
// benchmark would count as the host's own.
func exitWatch(pid int) (wait func(), err error) {
	fd, err := unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("pidfd_open: %w", err)
	}
	f := os.NewFile(uintptr(fd), "pidfd")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		defer f.Close()
		reaped := false
		err := rc.Read(func(fd uintptr) bool {
			var info unix.Siginfo
			err := unix.Waitid(unix.P_PIDFD, int(fd), &info, unix.WEXITED|unix.WNOHANG, nil)
			// Anything but WNOHANG's "nothing yet" (no error, no signal)
			// means the child is reaped or can no longer be waited for.
			reaped = err != unix.EINTR && (err != nil || info.Signo != 0)
			return reaped
		})
		if err != nil && !reaped {
			// The poller refused the pidfd: wait the blocking way.
			var info unix.Siginfo
			for unix.Waitid(unix.P_PIDFD, fd, &info, unix.WEXITED, nil) == unix.EINTR {
			}
		}
	}, nil
}

func (l *Load) forget(p *proc) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, c := range l.children {
		if c == p {
			l.children = append(l.children[:i], l.children[i+1:]...)
			return
		}
	}
}

// churn replaces the oldest child at the configured rate: it kills it,
// waits until it is gone, and starts another with the same thread count.
func (l *Load) churn() {
	defer l.wg.Done()
	tick := time.NewTicker(time.Duration(float64(time.Second) / l.spec.Churn.ProcsPerSec))
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case <-l.quit:
			return
		case <-tick.C:
		}
		l.mu.Lock()
		var oldest *proc
		if len(l.children) > 0 {
			oldest = l.children[0]
		}
		l.mu.Unlock()
		if oldest != nil {
			_ = oldest.cmd.Process.Kill()
			<-oldest.done
		}
		if err := l.spawn(l.spec.perChild(i % l.spec.Procs)); err != nil {
			return // stopped, or the host refuses more processes
		}
	}
}

// Stop ends every child and returns once all are gone. It may be called
// more than once and from any goroutine.
func (l *Load) Stop() error {
	l.stopOnce.Do(func() { l.stopErr = l.stop() })
	return l.stopErr
}

func (l *Load) stop() error {
	if l.unwatchCtx != nil {
		l.unwatchCtx()
	}
	close(l.quit)
	l.mu.Lock()
	l.stopped = true
	children := append([]*proc(nil), l.children...)
	l.mu.Unlock()
	l.lifeW.Close() // every child sees end of file and exits
	var err error
	deadline := time.After(stopTimeout)
	for _, p := range children {
		select {
		case <-p.done:
		case <-deadline:
			_ = p.cmd.Process.Kill()
			<-p.done
			err = fmt.Errorf("hostload: child %d did not exit within %s of its pipe closing; killed", p.cmd.Process.Pid, stopTimeout)
		}
	}
	close(l.spawns)
	l.readyW.Close()
	l.wg.Wait() // readReady ends once every copy of readyW is closed
	l.closePipes()
	return err
}

// Pids lists the children alive now.
func (l *Load) Pids() []int {
	l.mu.Lock()
	defer l.mu.Unlock()
	pids := make([]int, 0, len(l.children))
	for _, p := range l.children {
		pids = append(pids, p.cmd.Process.Pid)
	}
	return pids
}

// Counts are processes and threads as the kernel counts them.
type Counts struct {
	Procs, Threads int
}

// Counts measures the children now: how many are alive and how many
// threads they hold together (read from /proc/PID/stat).
func (l *Load) Counts() Counts {
	var c Counts
	for _, n := range l.threadsByPid() {
		c.Procs++
		c.Threads += n
	}
	return c
}

// Started is the number of processes started so far, replacements
// included.
func (l *Load) Started() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.started
}

// Memory is the children's memory, averaged per child, in bytes.
type Memory struct {
	Children int
	// RSS counts the pages a child maps, the binary's shared text
	// included; PSS shares those among the processes that map them;
	// Private is the memory a child alone has written (its heap and
	// stacks), what each more child costs the host.
	RSS, PSS, Private uint64
}

// Memory reads /proc/PID/smaps_rollup of every child.
func (l *Load) Memory() (Memory, error) {
	var m Memory
	for _, pid := range l.Pids() {
		p, err := procfs.NewProc(pid)
		if err != nil {
			continue
		}
		r, err := p.ProcSMapsRollup()
		if err != nil {
			continue
		}
		m.Children++
		m.RSS += r.Rss
		m.PSS += r.Pss
		m.Private += r.PrivateDirty
	}
	if m.Children == 0 {
		return m, errors.New("hostload: no child to measure")
	}
	n := uint64(m.Children)
	m.RSS, m.PSS, m.Private = m.RSS/n, m.PSS/n, m.Private/n
	return m, nil
}
