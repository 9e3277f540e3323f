package native

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"
)

// NetClass is node_exporter's netclass collector (its sysfs mode),
// reimplemented: the same families from /sys/class/net/<iface>, read with
// a fraction of the system calls.
//
// node_exporter lists every interface directory and opens, reads and
// closes every regular file in it (about thirty), whether it uses the
// value or not. This collector lists a directory only when it meets an
// interface it does not know, opens only the files whose values it uses,
// keeps them open between gathers and re-reads them with pread; sysfs
// shows a fresh value at every read from offset 0. An interface is known
// by the inode of its directory, so one deleted and created again under
// the same name, or renamed, is listed afresh; the descriptors of a
// deleted one read ENODEV and are dropped. Each file is read as procfs
// does (one read of at most 128 bytes, trimmed); read errors procfs
// ignores (ENOENT, EACCES, EPERM, EINVAL, EOPNOTSUPP) leave the value
// unset, any other fails the gather as node_exporter's does.
//
// The one difference: node_exporter also fails when a file whose value it
// does not use cannot be read; this collector does not read such files.
type NetClass struct {
	logger       *slog.Logger
	path         string // <sysfs>/class/net
	ignored      *regexp.Regexp
	invalidSpeed bool // --collector.netclass.ignore-invalid-speed
	keep         bool // sysfs: descriptors may be kept
	fds          fdBudget

	up, info *prometheus.Desc
	fields   [len(netFields)]*prometheus.Desc

	mu   sync.Mutex // serialises Update: the state below lives across calls
	devs map[string]*netDev
	gen  uint32
	buf  []byte
	vals [len(netAttrs)]netValue
}

// netDev is what the collector knows of one interface between gathers.
type netDev struct {
	ino   uint64
	files []netFile // the used attributes the directory had when listed
	seen  uint32
}

type netFile struct {
	attr int // index in netAttrs
	fd   int // kept open, or -1
}

// netValue is one attribute's value in this gather, as procfs keeps it:
// unset when the file is missing or its read error is ignored, 0 for a
// number that does not parse.
type netValue struct {
	set bool
	s   string
	n   int64
}

// netAttrs are the files under /sys/class/net/<iface> whose values the
// collector sends; numeric ones parse as strconv.ParseInt(s, 0, 64).
var netAttrs = [...]struct {
	file    string
	numeric bool
}{
	{"addr_assign_type", true}, {"address", false}, {"broadcast", false}, {"carrier", true},
	{"carrier_changes", true}, {"carrier_up_count", true}, {"carrier_down_count", true},
	{"dev_id", true}, {"dormant", true}, {"duplex", false}, {"flags", true}, {"ifalias", false},
	{"ifindex", true}, {"iflink", true}, {"link_mode", true}, {"mtu", true},
	{"name_assign_type", true}, {"netdev_group", true}, {"operstate", false}, {"speed", true},
	{"tx_queue_len", true}, {"type", true},
}

// Indexes in netAttrs of the values Update treats apart.
var (
	attrAddress   = attrIndex("address")
	attrBroadcast = attrIndex("broadcast")
	attrDuplex    = attrIndex("duplex")
	attrFlags     = attrIndex("flags")
	attrIfAlias   = attrIndex("ifalias")
	attrOperState = attrIndex("operstate")
	attrSpeed     = attrIndex("speed")
)

// netFields are the numeric families in node_exporter's order: the name
// after node_network_, the file it comes from, and whether it is a
// counter. speed_bytes is scaled from megabits.
var netFields = [...]struct {
	name, file string
	counter    bool
}{
	{"address_assign_type", "addr_assign_type", false}, {"carrier", "carrier", false},
	{"carrier_changes_total", "carrier_changes", true}, {"carrier_up_changes_total", "carrier_up_count", true},
	{"carrier_down_changes_total", "carrier_down_count", true}, {"device_id", "dev_id", false},
	{"dormant", "dormant", false}, {"flags", "flags", false}, {"iface_id", "ifindex", false},
	{"iface_link", "iflink", false}, {"iface_link_mode", "link_mode", false}, {"mtu_bytes", "mtu", false},
	{"name_assign_type", "name_assign_type", false}, {"net_dev_group", "netdev_group", false},
	{"speed_bytes", "speed", false}, {"transmit_queue_length", "tx_queue_len", false},
	{"protocol_type", "type", false},
}

// netFieldAttrs are the netAttrs indexes of netFields.
var netFieldAttrs = func() (idx [len(netFields)]int) {
	for i, f := range netFields {
		idx[i] = attrIndex(f.file)
	}
	return idx
}()

// attrIndex is the index of file in netAttrs; a name missing there is a
// mistake in the tables above.
func attrIndex(file string) int {
	for i, a := range netAttrs {
		if a.file == file {
			return i
		}
	}
	panic("native netclass: no attribute file " + file)
}

// errNetlink: node_exporter's --collector.netclass.netlink asks for a mode
// this collector does not implement.
var errNetlink = fmt.Errorf("%w: --collector.netclass.netlink is on", ErrNotNative)

// NewNetClass builds the collector; nothing is read until Update.
func NewNetClass(cfg Config, logger *slog.Logger) (*NetClass, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.SysPath == "" {
		return nil, errors.New("native netclass collector: sysfs path is empty (give --path.sysfs)")
	}
	if cfg.NetClass.Netlink {
		return nil, errNetlink
	}
	pattern := cfg.NetClass.IgnoredDevices
	if pattern == "" {
		pattern = "^$" // node_exporter's default: none
	}
	ignored, err := regexp.Compile(pattern)
	if err != nil {
		return nil, fmt.Errorf("native netclass collector: --collector.netclass.ignored-devices: %w", err)
	}
	const ns, sub = "node", "network"
	c := &NetClass{
		logger:       logger,
		path:         filepath.Join(cfg.SysPath, "class", "net"),
		ignored:      ignored,
		invalidSpeed: cfg.NetClass.IgnoreInvalidSpeed,
		up:           prometheus.NewDesc(prometheus.BuildFQName(ns, sub, "up"), "Value is 1 if operstate is 'up', 0 otherwise.", []string{"device"}, nil),
		info: prometheus.NewDesc(prometheus.BuildFQName(ns, sub, "info"), "Non-numeric data from /sys/class/net/<iface>, value is always 1.",
			[]string{"device", "address", "broadcast", "duplex", "operstate", "adminstate", "ifalias"}, nil),
		devs: map[string]*netDev{},
		buf:  make([]byte, 128),
	}
	for i, f := range netFields {
		c.fields[i] = prometheus.NewDesc(prometheus.BuildFQName(ns, sub, f.name), "Network device property: "+f.name, []string{"device"}, nil)
	}
	const sysfsMagic = 0x62656572
	var st syscall.Statfs_t
	if err := syscall.Statfs(cfg.SysPath, &st); err == nil && st.Type == sysfsMagic {
		// A few interfaces' worth: the processes collector needs the budget more.
		c.keep, c.fds = true, fdBudget{max: min(1024, cfg.maxOpenFiles()/16)}
	}
	return c, nil
}

// Update sends node_exporter's families for every interface not ignored,
// or nothing and an error when one cannot be read; a missing or
// unreadable /sys/class/net, or an interface that vanishes while it is
// read, is ErrNoData, as node_exporter reports it.
func (c *NetClass) Update(ch chan<- prometheus.Metric) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	ents, err := os.ReadDir(c.path)
	if err != nil {
		return c.fail(fmt.Errorf("cannot access dir %q: %w", c.path, err))
	}
	c.gen++
	type row struct {
		name string
		vals [len(netAttrs)]netValue
	}
	rows := make([]row, 0, len(ents))
	for _, e := range ents {
		name := e.Name()
		if e.Type().IsRegular() || c.ignored.MatchString(name) {
			continue
		}
		if err := c.read(name); err != nil {
			return c.fail(err)
		}
		rows = append(rows, row{name, c.vals})
	}
	for name, d := range c.devs {
		if d.seen != c.gen {
			c.closeDev(d)
			delete(c.devs, name)
		}
	}
	for i := range rows {
		c.send(ch, rows[i].name, &rows[i].vals)
	}
	return nil
}

// fail turns a read error into what node_exporter returns for it.
func (c *NetClass) fail(err error) error {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
		c.logger.Debug("Could not read netclass file", "err", err)
		return ErrNoData
	}
	return fmt.Errorf("could not get net class info: %w", err)
}

// read fills c.vals for the interface name.
func (c *NetClass) read(name string) error {
	dir := filepath.Join(c.path, name)
	d := &netDev{} // not sysfs: listed and opened afresh every gather
	if c.keep {
		var st syscall.Stat_t
		if err := syscall.Stat(dir, &st); err != nil {
			return &fs.PathError{Op: "stat", Path: dir, Err: err}
		}
		d = c.devs[name]
		if d != nil && d.ino != st.Ino {
			c.closeDev(d)
			d = nil
		}
		if d == nil {
			d = &netDev{ino: st.Ino}
			c.devs[name] = d
		}
	}
	d.seen = c.gen
	if d.files == nil {
		if err := c.list(d, dir); err != nil {
			return err
		}
	}
	err := c.readFiles(d, dir)
	if c.keep && errors.Is(err, syscall.ENODEV) {
		// A kept file of an interface deleted since: list it afresh, once.
		c.closeDev(d)
		if err := c.list(d, dir); err != nil {
			return err
		}
		err = c.readFiles(d, dir)
	}
	return err
}

// list records which of the used attribute files dir has.
func (c *NetClass) list(d *netDev, dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	d.files = make([]netFile, 0, len(netAttrs))
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		for i, a := range netAttrs {
			if a.file == e.Name() {
				d.files = append(d.files, netFile{attr: i, fd: -1})
				break
			}
		}
	}
	return nil
}

// readFiles reads every file d lists into c.vals.
func (c *NetClass) readFiles(d *netDev, dir string) error {
	c.vals = [len(netAttrs)]netValue{}
	for i := range d.files {
		f := &d.files[i]
		fd, kept := f.fd, f.fd >= 0
		if !kept {
			var err error
			if fd, err = openRead(filepath.Join(dir, netAttrs[f.attr].file)); err != nil {
				if ignorable(err) {
					continue
				}
				return c.fileErr(dir, f.attr, err)
			}
		}
		n, err := pread0(fd, c.buf)
		switch {
		case kept:
		case (err == nil || ignorable(err)) && c.keep && c.fds.take():
			f.fd = fd
		default:
			_ = syscall.Close(fd)
		}
		if err != nil {
			if ignorable(err) {
				continue
			}
			return c.fileErr(dir, f.attr, err)
		}
		c.vals[f.attr] = parseNetValue(netAttrs[f.attr].numeric, bytes.TrimSpace(c.buf[:n]))
	}
	return nil
}

func parseNetValue(numeric bool, b []byte) netValue {
	v := netValue{set: true}
	if !numeric {
		v.s = string(b)
		return v
	}
	v.n, _ = strconv.ParseInt(string(b), 0, 64) // 0 when it does not parse, as procfs gives
	return v
}

func (c *NetClass) fileErr(dir string, attr int, err error) error {
	return fmt.Errorf("failed to read file %q: %w", filepath.Join(dir, netAttrs[attr].file), err)
}

// ignorable reports the read errors procfs's netclass parser skips.
func ignorable(err error) bool {
	switch err {
	case syscall.ENOENT, syscall.EACCES, syscall.EPERM, syscall.EINVAL, syscall.EOPNOTSUPP:
		return true
	}
	return false
}

// send sends one interface's families in node_exporter's order.
func (c *NetClass) send(ch chan<- prometheus.Metric, name string, v *[len(netAttrs)]netValue) {
	up := 0.0
	if v[attrOperState].s == "up" {
		up = 1
	}
	ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, up, name)
	admin := "unknown"
	if v[attrFlags].set {
		admin = "down"
		if v[attrFlags].n&1 == 1 { // IFF_UP
			admin = "up"
		}
	}
	ch <- prometheus.MustNewConstMetric(c.info, prometheus.GaugeValue, 1, name,
		v[attrAddress].s, v[attrBroadcast].s, v[attrDuplex].s, v[attrOperState].s, admin, v[attrIfAlias].s)
	for i, f := range netFields {
		attr := netFieldAttrs[i]
		val := v[attr]
		if !val.set {
			continue
		}
		n := val.n
		if attr == attrSpeed {
			// Some devices give -1 when the speed is unknown.
			if n < 0 && c.invalidSpeed {
				continue
			}
			n = n * 1000 * 1000 / 8
		}
		t := prometheus.GaugeValue
		if f.counter {
			t = prometheus.CounterValue
		}
		ch <- prometheus.MustNewConstMetric(c.fields[i], t, float64(n), name)
	}
}

// Close closes the files the collector keeps open. An Update after Close
// opens them again.
func (c *NetClass) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for name, d := range c.devs {
		c.closeDev(d)
		delete(c.devs, name)
	}
	return nil
}

// closeDev closes d's kept files and forgets its listing.
func (c *NetClass) closeDev(d *netDev) {
	for _, f := range d.files {
		if f.fd >= 0 {
			_ = syscall.Close(f.fd)
			c.fds.give()
		}
	}
	d.files = nil
}

// openFiles is the number of descriptors the collector keeps open now.
func (c *NetClass) openFiles() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.fds.used
}
