package native

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"syscall"
)

// scan is one gather's counts, and scratch space reused by the next.
type scan struct {
	pids, threads            int
	procStates, threadStates stateCounts

	dir                    int // the procfs directory during a gather
	path, pathZ, buf, ents []byte
	pidList, tidList       []int
	merged                 []task

	// What the gather did, for tests: tasks found gone mid-read, task
	// directories listed.
	vanished, listings int
}

func newScan() scan {
	return scan{buf: make([]byte, 1024), ents: make([]byte, 32<<10), dir: -1}
}

func (s *scan) reset() {
	s.pids, s.threads, s.vanished, s.listings = 0, 0, 0, 0
	s.procStates.reset()
	s.threadStates.reset()
}

// gather counts every process and thread under procfs.
func (c *Processes) gather(s *scan) error {
	s.reset()
	c.gen++
	dir, err := syscall.Open(c.path, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("unable to list all processes: %w", &os.PathError{Op: "open", Path: c.path, Err: err})
	}
	defer syscall.Close(dir)
	s.dir = dir
	s.pidList, err = listInts(dir, []byte("."), s.pidList[:0], &s.ents, &s.pathZ)
	if err != nil {
		return fmt.Errorf("unable to list all processes: %w", &os.PathError{Op: "readdir", Path: c.path, Err: err})
	}
	for i, pid := range s.pidList {
		if err := c.scanProc(s, pid); err != nil {
			// The listing is still this gather's live set: forget what
			// ended even so, or a read error that persists would keep
			// every process that ever ran.
			c.markListed(s.pidList[i+1:])
			c.forgetEnded()
			return err
		}
	}
	c.forgetEnded()
	return nil
}

// markListed marks known processes of pids (listed, not read) as seen in
// this gather, so that forgetEnded keeps them and their descriptors.
func (c *Processes) markListed(pids []int) {
	for _, pid := range pids {
		if p := c.procs[pid]; p != nil {
			p.seen = c.gen
		}
	}
}

// forgetEnded drops the processes this gather did not list.
func (c *Processes) forgetEnded() {
	for pid, p := range c.procs {
		if p.seen != c.gen {
			c.closeProc(p)
			delete(c.procs, pid)
		}
	}
}

// scanProc counts one process and its threads. A process that vanishes
// before its stat is read is not counted, as upstream.
func (c *Processes) scanProc(s *scan, pid int) error {
	p := c.procs[pid]
	if p == nil {
		p = &proc{pid: pid, fd: -1}
		c.procs[pid] = p
	}
	p.seen = c.gen
	st, err := c.readProc(s, p)
	if err != nil {
		if gone(err) {
			s.vanished++
			c.closeProc(p)
			delete(c.procs, pid)
			return nil
		}
		return fmt.Errorf("error reading stat for pid %d: %w", pid, err)
	}
	state := stateString(st.state)
	s.pids++
	s.procStates.add(state)
	s.threads += st.numThreads
	return c.scanThreads(s, p, state, st.numThreads)
}

// readProc reads the process's stat through its kept descriptor, or opens
// it. A kept descriptor that reads ESRCH (or nothing) belonged to a
// process that ended; the pid may since be another's, so it is opened
// afresh and the process is taken for a new one.
func (c *Processes) readProc(s *scan, p *proc) (statFields, error) {
	if p.fd >= 0 {
		b, err := readAll(p.fd, &s.buf)
		switch {
		case err == nil && len(b) > 0:
			return c.parse(s, b, p.pid, -1, true)
		case err != nil && !gone(err):
			return statFields{}, c.pathErr(s, "read", p.pid, -1, err)
		}
		c.closeProc(p)
		p.listed, p.mainListed = false, false
	}
	return c.readFresh(s, p.pid, -1, &p.fd)
}

// scanThreads counts the process's threads by state. The main thread
// counts with the process's own state, as upstream. The task directory
// is listed only when the known threads may not be all (see Processes).
func (c *Processes) scanThreads(s *scan, p *proc, procState string, numThreads int) error {
	alive := 0
	if p.listed && p.mainListed {
		alive = 1
	}
	for i := range p.tasks {
		t := &p.tasks[i]
		if err := c.readTask(s, p.pid, t); err != nil {
			return err
		}
		if t.alive {
			alive++
		}
	}
	if !p.listed || alive != numThreads {
		if err := c.relist(s, p); err != nil {
			return err
		}
	} else {
		p.tasks = slices.DeleteFunc(p.tasks, func(t task) bool { return !t.alive })
	}
	if !p.listed { // the process ended before its threads were listed
		return nil
	}
	if p.mainListed {
		s.threadStates.add(procState)
	}
	for _, t := range p.tasks {
		s.threadStates.add(t.state)
	}
	return nil
}

// readTask reads one known thread's state; t.alive says whether it is
// still there.
func (c *Processes) readTask(s *scan, pid int, t *task) error {
	t.alive = false
	var st statFields
	var err error
	if t.fd >= 0 {
		var b []byte
		b, err = readAll(t.fd, &s.buf)
		switch {
		case err == nil && len(b) > 0:
			st, err = c.parse(s, b, pid, t.tid, true)
		case err == nil || gone(err):
			c.closeFd(&t.fd)
			s.vanished++
			return nil
		default:
			err = c.pathErr(s, "read", pid, t.tid, err)
		}
	} else {
		st, err = c.readFresh(s, pid, t.tid, &t.fd)
	}
	if err != nil {
		if gone(err) {
			s.vanished++
			return nil
		}
		return fmt.Errorf("error reading stat for pid %d thread %d: %w", pid, t.tid, err)
	}
	t.state, t.alive = stateString(st.state), true
	return nil
}

// relist lists /proc/PID/task and makes p.tasks match it: known threads
// keep their descriptors and this gather's state, new ones are read,
// listed-no-more ones are closed.
func (c *Processes) relist(s *scan, p *proc) error {
	s.listings++
	s.path = appendProcPath(s.path[:0], p.pid, -1, "task")
	var err error
	s.tidList, err = listInts(s.dir, s.path, s.tidList[:0], &s.ents, &s.pathZ)
	if err != nil {
		p.listed, p.mainListed = false, false
		for i := range p.tasks {
			c.closeFd(&p.tasks[i].fd)
		}
		p.tasks = p.tasks[:0]
		if gone(err) {
			return nil
		}
		return fmt.Errorf("error reading task for pid %d: %w", p.pid, c.pathErr(s, "readdir", p.pid, -1, err))
	}
	slices.Sort(s.tidList)
	p.listed, p.mainListed = true, false
	merged, old := s.merged[:0], p.tasks
	defer func() { s.merged = merged[:0] }()
	for _, tid := range s.tidList {
		if tid == p.pid {
			p.mainListed = true
			continue
		}
		for len(old) > 0 && old[0].tid < tid {
			c.closeFd(&old[0].fd)
			old = old[1:]
		}
		t := task{tid: tid, fd: -1}
		if len(old) > 0 && old[0].tid == tid {
			t, old = old[0], old[1:]
		}
		if !t.alive {
			if err := c.readTask(s, p.pid, &t); err != nil {
				// Every descriptor stays owned by exactly one entry,
				// in a slice of its own (merged is scratch space).
				p.tasks = slices.Concat(merged, []task{t}, old)
				p.listed = false
				return err
			}
			if !t.alive {
				continue
			}
		}
		merged = append(merged, t)
	}
	for i := range old {
		c.closeFd(&old[i].fd)
	}
	p.tasks = append(p.tasks[:0], merged...)
	return nil
}

// readFresh opens, reads and parses a stat file and keeps the descriptor
// in *keep when the budget allows.
func (c *Processes) readFresh(s *scan, pid, tid int, keep *int) (statFields, error) {
	s.path = appendProcPath(s.path[:0], pid, tid, "stat")
	fd, err := openAt(s.dir, s.path, 0, &s.pathZ)
	if err != nil {
		return statFields{}, c.pathErr(s, "open", pid, tid, err)
	}
	b, err := readAll(fd, &s.buf)
	var st statFields
	switch {
	case err != nil:
		err = c.pathErr(s, "read", pid, tid, err)
	case len(b) == 0: // a real task that ended reads ESRCH, not nothing
		err = fmt.Errorf("%s: %w: empty file", c.file(s), errMalformed)
	default:
		st, err = c.parse(s, b, pid, tid, false)
	}
	if err == nil && c.fds.take() {
		*keep = fd
	} else {
		_ = syscall.Close(fd)
	}
	return st, err
}

// parse checks a freshly opened file in full and a kept one quickly (see
// parseStatQuick).
func (c *Processes) parse(s *scan, b []byte, pid, tid int, kept bool) (statFields, error) {
	var st statFields
	var err error
	if kept {
		st, err = parseStatQuick(b, tid < 0)
	} else {
		st, err = parseStat(b)
	}
	if err != nil {
		s.path = appendProcPath(s.path[:0], pid, tid, "stat")
		return st, fmt.Errorf("%s: %w", c.file(s), err)
	}
	return st, nil
}

// pathErr names the file s.path was built for (rebuilt: the error path
// is rare and s.path may have moved on).
func (c *Processes) pathErr(s *scan, op string, pid, tid int, err error) error {
	leaf := "stat"
	if op == "readdir" {
		leaf = "task"
	}
	s.path = appendProcPath(s.path[:0], pid, tid, leaf)
	return &os.PathError{Op: op, Path: c.file(s), Err: err}
}

func (c *Processes) file(s *scan) string { return filepath.Join(c.path, string(s.path)) }

// stateCounts counts tasks by state. Kernel states are one letter; any
// other token (only a malformed file has one) is counted by name.
type stateCounts struct {
	letters [256]int
	other   map[string]int
}

func (sc *stateCounts) reset() {
	sc.letters = [256]int{}
	clear(sc.other)
}

func (sc *stateCounts) add(state string) {
	if len(state) == 1 {
		sc.letters[state[0]]++
		return
	}
	if sc.other == nil {
		sc.other = map[string]int{}
	}
	sc.other[state]++
}

// each calls f for every state seen, in a stable order.
func (sc *stateCounts) each(f func(state string, n int)) {
	for i, n := range sc.letters {
		if n > 0 {
			f(letters[i], n)
		}
	}
	keys := make([]string, 0, len(sc.other))
	for k := range sc.other {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		f(k, sc.other[k])
	}
}

// letters holds the one-byte strings, so a state costs no allocation.
var letters = func() (l [256]string) {
	for i := range l {
		l[i] = string([]byte{byte(i)})
	}
	return l
}()

func stateString(b []byte) string {
	if len(b) == 1 {
		return letters[b[0]]
	}
	return string(b)
}
