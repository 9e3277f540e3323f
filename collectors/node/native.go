package node

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/node_exporter/collector"

	"github.com/hostpush/hostpush/collectors/native"
)

// nativeFlags are --collector.<name>.native for each collector hostpush
// implements itself (collectors/native), on by default. They live on
// kingpin's global command line beside node_exporter's flags, registered
// when this package is initialised as node_exporter registers its own, so
// that the configuration file can set them (collectors.flags:
// {processes.native: false}) and Validate knows them before Parse.
var nativeFlags = defineNativeFlags(kingpin.CommandLine)

func defineNativeFlags(app *kingpin.Application) map[string]*bool {
	flags := map[string]*bool{}
	for _, name := range native.Names() {
		help := fmt.Sprintf("Run hostpush's own %s collector: the same metrics as node_exporter's, for less CPU. "+
			"--no-collector.%s.native runs node_exporter's instead.", name, name)
		flags[name] = app.Flag("collector."+name+".native", help).Default("true").Bool()
	}
	return flags
}

// substituteNative replaces each enabled node_exporter collector that has
// a native implementation whose flag is on, unless node_exporter's flags
// ask that collector for a mode the native one does not implement. It
// reads node_exporter's flags from the parsed command line (node_exporter
// keeps their values unexported).
func substituteNative(logger *slog.Logger, updaters map[string]Updater) error {
	cfg := native.Config{
		ProcPath: flagString("path.procfs"),
		SysPath:  flagString("path.sysfs"),
		NetClass: native.NetClassFlags{
			IgnoredDevices:     flagString("collector.netclass.ignored-devices"),
			IgnoreInvalidSpeed: flagString("collector.netclass.ignore-invalid-speed") == "true",
			Netlink:            flagString("collector.netclass.netlink") == "true",
		},
	}
	for name, on := range nativeFlags {
		if _, enabled := updaters[name]; !enabled || !*on {
			continue
		}
		c, err := native.New(name, cfg, logger.With("collector", name))
		if errors.Is(err, native.ErrNotNative) {
			logger.Debug("node_exporter's collector kept", "collector", name, "reason", err)
			continue
		}
		if err != nil {
			return fmt.Errorf("building hostpush's own %s collector: %w", name, err)
		}
		updaters[name] = noData{c}
		logger.Debug("collector replaced by hostpush's own", "collector", name, "flag", "--collector."+name+".native")
	}
	return nil
}

// noData reports a native collector's ErrNoData as node_exporter's, which
// the runner logs at debug level.
type noData struct{ native.Collector }

func (n noData) Update(ch chan<- prometheus.Metric) error {
	err := n.Collector.Update(ch)
	if errors.Is(err, native.ErrNoData) {
		return collector.ErrNoData
	}
	return err
}

func flagString(name string) string {
	if f := kingpin.CommandLine.GetFlag(name); f != nil {
		return f.Model().Value.String()
	}
	return ""
}
