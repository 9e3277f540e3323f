package native

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"
)

// Collector is what a node_exporter collector does: send its metrics.
// Update may be called from any goroutine; calls on one Collector are
// serialised (each keeps state between calls behind a mutex), and the
// caller is expected not to overlap them at all, as hostpush never does.
type Collector interface {
	Update(ch chan<- prometheus.Metric) error
}

// Config is what the native collectors need to know.
type Config struct {
	// ProcPath is node_exporter's --path.procfs.
	ProcPath string
	// SysPath is node_exporter's --path.sysfs (netclass).
	SysPath string
	// NetClass holds node_exporter's --collector.netclass.* flags.
	NetClass NetClassFlags
	// MaxOpenFiles caps the file descriptors a collector keeps open
	// between gathers; 0 means half of RLIMIT_NOFILE's soft limit.
	// Beyond it files are opened, read and closed on every gather.
	MaxOpenFiles int
}

// NetClassFlags are node_exporter's flags of the netclass collector.
type NetClassFlags struct {
	IgnoredDevices     string // --collector.netclass.ignored-devices, a regexp; "" ignores none
	IgnoreInvalidSpeed bool   // --collector.netclass.ignore-invalid-speed
	Netlink            bool   // --collector.netclass.netlink
}

// ErrNoData is what a native collector returns where node_exporter's
// returns its collector.ErrNoData: nothing to report, logged at debug.
var ErrNoData = errors.New("collector returned no data")

// ErrNotNative: the node_exporter flags ask a native collector for a mode
// it does not implement; node_exporter's own collector is to run instead.
var ErrNotNative = errors.New("mode not implemented natively")

// Validate reports what is wrong with c.
func (c Config) Validate() error {
	var errs []error
	if c.ProcPath == "" {
		errs = append(errs, errors.New("native collectors: procfs path is empty (give --path.procfs)"))
	}
	if c.MaxOpenFiles < 0 {
		errs = append(errs, fmt.Errorf("native collectors: max open files %d is negative (allowed: 0 for half of RLIMIT_NOFILE, or more)", c.MaxOpenFiles))
	}
	return errors.Join(errs...)
}

// maxOpenFiles resolves the default of MaxOpenFiles.
func (c Config) maxOpenFiles() int {
	if c.MaxOpenFiles > 0 {
		return c.MaxOpenFiles
	}
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0
	}
	return int(min(rl.Cur, 1<<30) / 2)
}

// registry lists the native collectors by the node_exporter name each
// replaces.
var registry = map[string]func(Config, *slog.Logger) (Collector, error){
	"netclass":  func(c Config, l *slog.Logger) (Collector, error) { return NewNetClass(c, l) },
	"processes": func(c Config, l *slog.Logger) (Collector, error) { return NewProcesses(c, l) },
}

// Names lists the node_exporter collectors this package implements, sorted.
func Names() []string {
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// New builds the native collector that replaces node_exporter's collector
// name.
func New(name string, cfg Config, logger *slog.Logger) (Collector, error) {
	f, ok := registry[name]
	if !ok {
		return nil, fmt.Errorf("no native %q collector (there are: %s)", name, strings.Join(Names(), ", "))
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return f(cfg, logger)
}
