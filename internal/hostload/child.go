package hostload

import (
	"encoding/binary"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"
)

// envChild selects the child mode and carries its settings.
const envChild = "HOSTPUSH_HOSTLOAD_CHILD"

// The child's inherited descriptors (exec.Cmd.ExtraFiles).
const (
	fdLife  = 3 // read end of the parent's pipe: end of file means exit
	fdReady = 4 // write end of the readiness pipe: one byte once settled
	fdGrow  = 5 // read end of the grow pipe: whoever takes a byte adds a thread
)

// MaybeChild turns this process into a load child and never returns when
// Start launched it as one; otherwise it returns at once. Call it first in
// TestMain or main, before flags are parsed, in every binary that calls
// Start.
func MaybeChild() {
	v, ok := os.LookupEnv(envChild)
	if !ok {
		return
	}
	cfg, err := parseChildEnv(v)
	if err != nil {
		fmt.Fprintf(os.Stderr, "hostload child: %v\n", err)
		os.Exit(2)
	}
	runChild(cfg)
}

// childConfig is what the parent tells a child.
type childConfig struct {
	load     int64         // the Load's id, so tests can find its children
	threads  int           // the thread count to settle at
	deadline time.Time     // exit at this time whatever happens
	churn    time.Duration // replace one thread this often; 0: never
}

func (c childConfig) env() string {
	return fmt.Sprintf("load=%d,threads=%d,deadline=%d,churn=%d", c.load, c.threads, c.deadline.UnixNano(), c.churn.Nanoseconds())
}

func parseChildEnv(v string) (childConfig, error) {
	var c childConfig
	for _, kv := range strings.Split(v, ",") {
		k, val, _ := strings.Cut(kv, "=")
		n, err := strconv.ParseInt(val, 10, 64)
		if err != nil {
			return c, fmt.Errorf("%s=%q: %v", envChild, v, err)
		}
		switch k {
		case "load":
			c.load = n
		case "threads":
			c.threads = int(n)
		case "deadline":
			c.deadline = time.Unix(0, n)
		case "churn":
			c.churn = time.Duration(n)
		default:
			return c, fmt.Errorf("%s=%q: unknown key %q", envChild, v, k)
		}
	}
	if c.threads < 1 || c.deadline.IsZero() {
		return c, fmt.Errorf("%s=%q: threads and deadline are required", envChild, v)
	}
	return c, nil
}

// child holds threads: goroutines blocked in ppoll(2) on the parent's
// pipes, each of which keeps an OS thread busy. Holders are not locked to
// their threads: runtime.LockOSThread starts the runtime's template
// thread, one thread more than needed, so only churned threads (which must
// end) use it. The child reads /proc with plain system calls and installs
// no signal handler, as the os package's poller and os/signal would each
// keep a thread of their own.
type child struct {
	quitR, quitW int // churn: a byte tells the churned thread to end
}

func runChild(cfg childConfig) {
	runtime.GOMAXPROCS(1)
	time.AfterFunc(time.Until(cfg.deadline), func() { os.Exit(0) })
	var p [2]int
	if err := syscall.Pipe2(p[:], syscall.O_NONBLOCK|syscall.O_CLOEXEC); err != nil {
		fmt.Fprintf(os.Stderr, "hostload child: pipe: %v\n", err)
		os.Exit(1)
	}
	// Holders race for grow bytes; the losers must not block in read.
	if err := syscall.SetNonblock(fdGrow, true); err != nil {
		fmt.Fprintf(os.Stderr, "hostload child: grow pipe: %v\n", err)
		os.Exit(1)
	}
	c := &child{quitR: p[0], quitW: p[1]}
	// What package initialisation allocated is not needed any more.
	// Collected first: the collection may start a thread of its own.
	runtime.GC()
	debug.FreeOSMemory()
	if cfg.churn > 0 {
		c.startChurned()
	}
	c.settle(cfg.threads)
	_, _ = syscall.Write(fdReady, []byte{1})
	_ = syscall.Close(fdReady)
	if cfg.churn <= 0 {
		select {} // the holders, the deadline or the parent end the process
	}
	for range time.Tick(cfg.churn) {
		// The churned thread ends and another starts.
		_, _ = syscall.Write(c.quitW, []byte{1})
		c.startChurned()
	}
}

// settle starts holders one at a time until the process has want threads,
// as the kernel counts them. The Go runtime starts threads of its own when
// a goroutine blocks, so the count is measured, not predicted; one at a
// time, it overshoots rarely and by one.
func (c *child) settle(want int) {
	go grow() // at least one watches the parent
	for range 1000 {
		n := stableTasks()
		if n >= want {
			return
		}
		go hold()
	}
}

// stableTasks waits until the thread count holds still for two samples.
func stableTasks() int {
	last := countTasks()
	for range 100 {
		time.Sleep(2 * time.Millisecond)
		n := countTasks()
		if n == last {
			return n
		}
		last = n
	}
	return last
}

// hold blocks its goroutine, and so its thread, until the parent goes,
// then ends the process.
func hold() {
	fds := []pollFd{{fd: fdLife, events: pollIn}}
	for {
		fds[0].revents = 0
		waitParent(fds)
	}
}

// grow is the one holder that also watches the grow pipe: a byte it takes
// makes it start one more holder. Only one per process wakes for a byte,
// as a crowd of woken holders would make the runtime start spare threads.
func grow() {
	fds := []pollFd{{fd: fdLife, events: pollIn}, {fd: fdGrow, events: pollIn}}
	var b [1]byte
	for {
		fds[0].revents, fds[1].revents = 0, 0
		waitParent(fds)
		if fds[1].revents != 0 {
			if n, _ := syscall.Read(fdGrow, b[:]); n == 1 {
				go hold()
			}
		}
	}
}

// waitParent polls fds, of which the first is the parent's pipe, and ends
// the process when the parent closed its end or died.
func waitParent(fds []pollFd) {
	err := poll(fds)
	if err != nil && err != syscall.EINTR {
		os.Exit(1)
	}
	if err == nil && fds[0].revents != 0 {
		os.Exit(0)
	}
}

// startChurned starts a thread that ends when it takes a byte from quit:
// it returns while locked to its thread, which makes the runtime end the
// thread.
func (c *child) startChurned() {
	go func() {
		runtime.LockOSThread()
		fds := []pollFd{{fd: fdLife, events: pollIn}, {fd: int32(c.quitR), events: pollIn}}
		var b [1]byte
		for {
			fds[0].revents, fds[1].revents = 0, 0
			waitParent(fds)
			if fds[1].revents != 0 {
				if n, _ := syscall.Read(c.quitR, b[:]); n == 1 {
					return
				}
			}
		}
	}()
}

// countTasks counts the entries of /proc/self/task.
func countTasks() int {
	fd, err := syscall.Open("/proc/self/task", syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return 0
	}
	defer syscall.Close(fd)
	buf := make([]byte, 8192)
	n := 0
	for {
		got, err := syscall.Getdents(fd, buf)
		if err != nil || got <= 0 {
			return n - 2 // "." and ".."
		}
		for off := 0; off < got; {
			// struct linux_dirent64: ino 8, off 8, reclen 2, type 1, name
			reclen := int(binary.NativeEndian.Uint16(buf[off+16:]))
			n++
			off += reclen
		}
	}
}

type pollFd struct {
	fd      int32
	events  int16
	revents int16
}

const pollIn = 0x1

// poll waits without a timeout. ppoll exists on every Linux architecture
// (poll does not on arm64).
func poll(fds []pollFd) error {
	_, _, e := syscall.Syscall6(syscall.SYS_PPOLL, uintptr(unsafe.Pointer(&fds[0])), uintptr(len(fds)), 0, 0, 0, 0)
	if e != 0 {
		return e
	}
	return nil
}
