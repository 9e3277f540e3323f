package native

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"
)

// Processes is node_exporter's processes collector, reimplemented: the
// same six families from the state letter and thread count of every
// process and thread, at a fraction of the cost.
//
// node_exporter parses all 42 fields of every /proc/PID/task/TID/stat with
// fmt.Fscan and lists every /proc/PID/task directory on every scrape. This
// collector keeps each stat file open between gathers and re-reads it with
// pread (a vanished task's descriptor then reads ESRCH), takes only the
// state and num_threads, and lists a process's task directory only when
// it cannot prove the threads it knows are all there are: when the process
// is new, or when num_threads in the process's own stat differs from the
// number of its known threads still alive. A thread started and another
// ended since the last gather leave num_threads unchanged, but the ended
// one's descriptor fails, so the count of live known threads differs and
// the directory is listed. Descriptors are bounded by Config.MaxOpenFiles;
// beyond it files are opened and closed on every gather, as upstream does.
type Processes struct {
	logger *slog.Logger
	path   string

	threadAlloc, threadLimit, threadsState, procsState, pidUsed, pidMax *prometheus.Desc

	mu    sync.Mutex // serialises Update: the state below lives across calls
	procs map[int]*proc
	fds   fdBudget
	gen   uint32
	scan  scan // one gather's counts and scratch space
}

// proc is what the collector knows of one process between gathers.
type proc struct {
	pid  int
	fd   int // /proc/PID/stat kept open, or -1
	seen uint32
	// listed: the last listing of /proc/PID/task succeeded; mainListed:
	// it held the process's own (main) thread.
	listed, mainListed bool
	tasks              []task // the other threads, by the last listing
}

// task is one thread other than the main one.
type task struct {
	tid   int
	fd    int    // task/TID/stat kept open, or -1
	state string // read in this gather
	alive bool   // read successfully in this gather
}

// NewProcesses builds the collector; nothing is read until Update.
func NewProcesses(cfg Config, logger *slog.Logger) (*Processes, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	const ns, sub = "node", "processes"
	return &Processes{
		logger:       logger,
		path:         cfg.ProcPath,
		threadAlloc:  prometheus.NewDesc(prometheus.BuildFQName(ns, sub, "threads"), "Allocated threads in system", nil, nil),
		threadLimit:  prometheus.NewDesc(prometheus.BuildFQName(ns, sub, "max_threads"), "Limit of threads in the system", nil, nil),
		threadsState: prometheus.NewDesc(prometheus.BuildFQName(ns, sub, "threads_state"), "Number of threads in each state.", []string{"thread_state"}, nil),
		procsState:   prometheus.NewDesc(prometheus.BuildFQName(ns, sub, "state"), "Number of processes in each state.", []string{"state"}, nil),
		pidUsed:      prometheus.NewDesc(prometheus.BuildFQName(ns, sub, "pids"), "Number of PIDs", nil, nil),
		pidMax:       prometheus.NewDesc(prometheus.BuildFQName(ns, sub, "max_processes"), "Number of max PIDs limit", nil, nil),
		procs:        map[int]*proc{},
		fds:          fdBudget{max: keptFiles(cfg)},
		scan:         newScan(),
	}, nil
}

// Update sends the six families in node_exporter's order, and fails at the
// same points: nothing is sent when a process or thread cannot be read,
// the threads when threads-max cannot, all but the pid families when
// pid_max cannot.
func (c *Processes) Update(ch chan<- prometheus.Metric) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := &c.scan
	if err := c.gather(s); err != nil {
		return fmt.Errorf("unable to retrieve number of allocated threads: %w", err)
	}
	ch <- prometheus.MustNewConstMetric(c.threadAlloc, prometheus.GaugeValue, float64(s.threads))
	maxThreads, err := c.readUint("sys/kernel/threads-max")
	if err != nil {
		return fmt.Errorf("unable to retrieve limit number of threads: %w", err)
	}
	ch <- prometheus.MustNewConstMetric(c.threadLimit, prometheus.GaugeValue, float64(maxThreads))
	s.procStates.each(func(state string, n int) {
		ch <- prometheus.MustNewConstMetric(c.procsState, prometheus.GaugeValue, float64(n), state)
	})
	s.threadStates.each(func(state string, n int) {
		ch <- prometheus.MustNewConstMetric(c.threadsState, prometheus.GaugeValue, float64(n), state)
	})
	pidMax, err := c.readUint("sys/kernel/pid_max")
	if err != nil {
		return fmt.Errorf("unable to retrieve limit number of maximum pids allowed: %w", err)
	}
	ch <- prometheus.MustNewConstMetric(c.pidUsed, prometheus.GaugeValue, float64(s.pids))
	ch <- prometheus.MustNewConstMetric(c.pidMax, prometheus.GaugeValue, float64(pidMax))
	return nil
}

// keptFiles is the descriptor budget. Keeping descriptors is sound on
// procfs only, where an ended task's descriptor reads ESRCH; on a copy of
// /proc in ordinary files (fixtures) a kept descriptor would go on reading
// a deleted file, so there every file is opened afresh.
func keptFiles(cfg Config) int {
	const procSuperMagic = 0x9fa0
	var st syscall.Statfs_t
	if err := syscall.Statfs(cfg.ProcPath, &st); err != nil || st.Type != procSuperMagic {
		return 0
	}
	return cfg.maxOpenFiles()
}

// readUint reads a number file under procfs, as node_exporter does.
func (c *Processes) readUint(name string) (uint64, error) {
	path := filepath.Join(c.path, name)
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseUint(string(bytes.TrimSpace(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	return n, nil
}

// Close closes the files the collector keeps open. An Update after
// Close opens them again.
func (c *Processes) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for pid, p := range c.procs {
		c.closeProc(p)
		delete(c.procs, pid)
	}
	return nil
}

// openFiles is the number of descriptors the collector keeps open now.
func (c *Processes) openFiles() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.fds.used
}

// closeProc closes what p holds open.
func (c *Processes) closeProc(p *proc) {
	if p.fd >= 0 {
		c.closeFd(&p.fd)
	}
	for i := range p.tasks {
		c.closeFd(&p.tasks[i].fd)
	}
	p.tasks = p.tasks[:0]
}

func (c *Processes) closeFd(fd *int) {
	if *fd >= 0 {
		_ = syscall.Close(*fd)
		c.fds.give()
		*fd = -1
	}
}
