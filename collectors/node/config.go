package node

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"gopkg.in/yaml.v3"

	// Imported for its init: it registers the collector flags on
	// kingpin.CommandLine.
	_ "github.com/prometheus/node_exporter/collector"

	"github.com/hostpush/hostpush/internal/yamlconf"
)

// Extras are the collectors hostpush enables on top of node_exporter's
// defaults because dashboard 1860 needs them. --collector.disable-defaults
// turns them off together with node_exporter's own defaults.
var Extras = []string{"processes", "systemd", "interrupts", "tcpstat"}

// pathFlags are node_exporter's path options, by their key in Config.Paths.
var pathFlags = []string{"procfs", "sysfs", "rootfs", "udev.data"}

// Config is the collectors block of the configuration file. Only what the
// user set becomes a flag; node_exporter's own defaults apply to the rest.
type Config struct {
	// Enable and Disable list collectors by node_exporter's names.
	Enable  []string `yaml:"enable"`
	Disable []string `yaml:"disable"`
	// DisableDefaults is --collector.disable-defaults.
	DisableDefaults bool `yaml:"disable_defaults"`
	// Flags maps collector options without their "collector." prefix to
	// values, for example filesystem.mount-points-exclude: "^/run($|/)".
	// A list gives a repeatable flag several times.
	Flags map[string]FlagValue `yaml:"flags"`
	// Paths maps procfs, sysfs, rootfs and udev.data to mount points.
	Paths map[string]string `yaml:"paths"`
	// Timeout is each collector's deadline within a tick; 0 means
	// DefaultTimeoutShare of the push interval.
	Timeout time.Duration `yaml:"timeout"`
	// Intervals lets slow-moving collectors run less often than every tick;
	// their last values are pushed in between.
	Intervals map[string]time.Duration `yaml:"intervals"`
}

// FlagValue is one or more values of a collector option.
type FlagValue []string

// UnmarshalYAML accepts a scalar or a list of scalars.
func (v *FlagValue) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		*v = FlagValue{n.Value}
		return nil
	case yaml.SequenceNode:
		out := make(FlagValue, 0, len(n.Content))
		for _, c := range n.Content {
			if c.Kind != yaml.ScalarNode {
				return fmt.Errorf("line %d: a flag value list holds scalars only", c.Line)
			}
			out = append(out, c.Value)
		}
		*v = out
		return nil
	}
	return fmt.Errorf("line %d: a flag value is a scalar or a list of scalars", n.Line)
}

// Validate checks names against the collectors and options node_exporter
// registered, so a typo is reported before anything runs. Each problem is
// a *yamlconf.FieldError keyed under collectors.
func (c *Config) Validate() error {
	var errs []error
	known := Names()
	checkName := func(key, name string) {
		if !slices.Contains(known, name) {
			errs = append(errs, yamlconf.Errorf("collectors."+key, "unknown collector %q (known: %s)", name, strings.Join(known, ", ")))
		}
	}
	for i, n := range c.Enable {
		checkName(fmt.Sprintf("enable[%d]", i), n)
	}
	for i, n := range c.Disable {
		checkName(fmt.Sprintf("disable[%d]", i), n)
		if slices.Contains(c.Enable, n) {
			errs = append(errs, yamlconf.Errorf(fmt.Sprintf("collectors.disable[%d]", i), "%q is also in collectors.enable", n))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(c.Flags)) {
		f := kingpin.CommandLine.GetFlag("collector." + k)
		if f == nil || slices.Contains(known, k) {
			errs = append(errs, yamlconf.Errorf("collectors.flags."+k, "unknown collector option %q (give node_exporter's flag name without \"--collector.\", e.g. filesystem.mount-points-exclude)", k))
			continue
		}
		if f.Model().IsBoolFlag() {
			for _, v := range c.Flags[k] {
				if _, err := strconv.ParseBool(v); err != nil || len(c.Flags[k]) > 1 {
					errs = append(errs, yamlconf.Errorf("collectors.flags."+k, "%q is not one boolean (allowed: true, false)", strings.Join(c.Flags[k], ", ")))
					break
				}
			}
		}
	}
	for _, k := range slices.Sorted(maps.Keys(c.Paths)) {
		if !slices.Contains(pathFlags, k) {
			errs = append(errs, yamlconf.Errorf("collectors.paths."+k, "unknown path %q (allowed: %s)", k, strings.Join(pathFlags, ", ")))
		}
	}
	if c.Timeout < 0 {
		errs = append(errs, yamlconf.Errorf("collectors.timeout", "%s is negative (allowed: 0 for the default, or a positive duration)", c.Timeout))
	}
	for _, k := range slices.Sorted(maps.Keys(c.Intervals)) {
		checkName("intervals."+k, k)
		if c.Intervals[k] <= 0 {
			errs = append(errs, yamlconf.Errorf("collectors.intervals."+k, "%s is not a positive duration", c.Intervals[k]))
		}
	}
	return errors.Join(errs...)
}

// Args turns the block into node_exporter flags, in a stable order. Only
// what was set appears.
func (c *Config) Args() []string {
	var args []string
	if c.DisableDefaults {
		args = append(args, "--collector.disable-defaults")
	}
	for _, n := range c.Enable {
		args = append(args, "--collector."+n)
	}
	for _, n := range c.Disable {
		args = append(args, "--no-collector."+n)
	}
	for _, k := range slices.Sorted(maps.Keys(c.Flags)) {
		for _, v := range c.Flags[k] {
			args = append(args, flagArg(k, v))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(c.Paths)) {
		args = append(args, "--path."+k+"="+c.Paths[k])
	}
	return args
}

// flagArg renders one collector option. kingpin takes no value after a
// boolean flag ("--collector.cpu.info=false" is refused): a boolean is
// --collector.K or --no-collector.K.
func flagArg(k, v string) string {
	if f := kingpin.CommandLine.GetFlag("collector." + k); f != nil && f.Model().IsBoolFlag() {
		if b, err := strconv.ParseBool(v); err == nil {
			if b {
				return "--collector." + k
			}
			return "--no-collector." + k
		}
	}
	return "--collector." + k + "=" + v
}

// Merge joins the flags from the file with those of the command line, which
// override them: a file flag also given on the command line is dropped
// (kingpin refuses most flags given twice, and the command line must win).
func Merge(fileArgs, cliArgs []string) []string {
	onCLI := map[string]bool{}
	for _, a := range cliArgs {
		if a == "--" {
			break
		}
		if n := flagName(a); n != "" {
			onCLI[n] = true
		}
	}
	out := make([]string, 0, len(fileArgs)+len(cliArgs))
	for _, a := range fileArgs {
		if !onCLI[flagName(a)] {
			out = append(out, a)
		}
	}
	return append(out, cliArgs...)
}

// flagName returns the flag a long-option token sets ("collector.systemd"
// for --no-collector.systemd and --collector.systemd=true), "" otherwise.
func flagName(tok string) string {
	n, ok := strings.CutPrefix(tok, "--")
	if !ok || n == "" {
		return ""
	}
	n, _, _ = strings.Cut(n, "=")
	if b, ok := strings.CutPrefix(n, "no-"); ok {
		return b
	}
	return n
}

// WithExtras prepends --collector.X for each of Extras to args unless args
// (in the end) disable the defaults. An extra the args set themselves
// (--collector.X or --no-collector.X) is left out: kingpin refuses a bool
// flag given twice, and the user's setting must win.
func WithExtras(args []string) []string {
	if defaultsDisabled(args) {
		return args
	}
	extras := make([]string, 0, len(Extras))
	for _, n := range Extras {
		extras = append(extras, "--collector."+n)
	}
	return Merge(extras, args)
}

// defaultsDisabled reports the last setting of --collector.disable-defaults
// in args, as kingpin will see it.
func defaultsDisabled(args []string) bool {
	off := false
	for _, a := range args {
		if a == "--" {
			break
		}
		switch a {
		case "--collector.disable-defaults", "--collector.disable-defaults=true":
			off = true
		case "--no-collector.disable-defaults", "--collector.disable-defaults=false":
			off = false
		}
	}
	return off
}

// Names lists the collectors node_exporter registered, sorted.
func Names() []string {
	var names []string
	for _, f := range kingpin.CommandLine.Model().Flags {
		n, ok := strings.CutPrefix(f.Name, "collector.")
		if !ok || strings.Contains(n, ".") || !f.IsBoolFlag() || n == "disable-defaults" {
			continue
		}
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
