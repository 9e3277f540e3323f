package native

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/node_exporter/collector"
)

// netIface is one interface directory of a sysfs fixture: attribute files
// by name (a value of "-" leaves the file out of the default set).
type netIface map[string]string

// netDefaults are the files an ordinary up interface has, the unused ones
// (which node_exporter reads too) included.
var netDefaults = netIface{
	"addr_assign_type": "0", "addr_len": "6", "address": "52:54:00:12:34:56",
	"broadcast": "ff:ff:ff:ff:ff:ff", "carrier": "1", "carrier_changes": "2",
	"carrier_up_count": "1", "carrier_down_count": "1", "dev_id": "0x0", "dev_port": "0",
	"dormant": "0", "duplex": "full", "flags": "0x1003", "gro_flush_timeout": "0",
	"ifalias": "", "ifindex": "2", "iflink": "2", "link_mode": "0", "mtu": "1500",
	"name_assign_type": "4", "netdev_group": "0", "operstate": "up", "proto_down": "0",
	"speed": "1000", "testing": "0", "tx_queue_len": "1000", "type": "1", "uevent": "INTERFACE=eth0\nIFINDEX=2",
}

// writeNet makes <dir>/class/net with the interfaces, each the defaults
// overridden by its own files, and extra regular files beside them.
func writeNet(t *testing.T, dir string, ifaces map[string]netIface, extra ...string) {
	t.Helper()
	net := filepath.Join(dir, "class", "net")
	if err := os.RemoveAll(net); err != nil {
		t.Fatal(err)
	}
	for name, files := range ifaces {
		d := filepath.Join(net, name)
		if err := os.MkdirAll(filepath.Join(d, "statistics"), 0o755); err != nil {
			t.Fatal(err)
		}
		all := maps.Clone(netDefaults)
		maps.Copy(all, files)
		for f, v := range all {
			if v == "-" {
				continue
			}
			if err := os.WriteFile(filepath.Join(d, f), []byte(v+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, f := range extra {
		if err := os.WriteFile(filepath.Join(net, f), []byte("bond0\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// netFlags sets node_exporter's flags its netclass collector reads, for
// the rest of the test; such tests cannot run in parallel.
func netFlags(t testing.TB, sysPath string, nf NetClassFlags) {
	t.Helper()
	set := func(name, v string) {
		f := kingpin.CommandLine.GetFlag(name)
		old := f.Model().Value.String()
		if err := f.Model().Value.Set(v); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = f.Model().Value.Set(old) })
	}
	set("path.sysfs", sysPath)
	set("collector.netclass.ignored-devices", or(nf.IgnoredDevices, "^$"))
	set("collector.netclass.ignore-invalid-speed", fmt.Sprint(nf.IgnoreInvalidSpeed))
}

func newNetClass(t testing.TB, sysPath string, nf NetClassFlags) *NetClass {
	t.Helper()
	c, err := NewNetClass(Config{ProcPath: "/proc", SysPath: sysPath, NetClass: nf}, discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// sameNetClass runs node_exporter's netclass collector and c on sysPath
// and fails the test when their output or their failing differ. It
// returns the output.
func sameNetClass(t *testing.T, c *NetClass, sysPath string, nf NetClassFlags) string {
	t.Helper()
	netFlags(t, sysPath, nf)
	ne, err := collector.NewNetClassCollector(discard)
	if err != nil {
		t.Fatal(err)
	}
	return sameOutput(t, ne, c)
}

// noDataOf maps ErrNoData as collectors/node does.
func noDataOf(u updater) updater { return noDataUpdater{u} }

type noDataUpdater struct{ updater }

func (n noDataUpdater) Update(ch chan<- prometheus.Metric) error {
	err := n.updater.Update(ch)
	if errors.Is(err, ErrNoData) {
		return collector.ErrNoData
	}
	return err
}

func TestNetClassMatchesNodeExporterOnFixtures(t *testing.T) {
	long := strings.Repeat("x", 200) // one read of 128 bytes, as procfs does
	for _, tc := range []struct {
		name   string
		ifaces map[string]netIface
		extra  []string
		flags  NetClassFlags
		want   []string // in hostpush's output
	}{
		{"ordinary interfaces", map[string]netIface{"eth0": {}, "lo": {"address": "00:00:00:00:00:00", "flags": "0x9", "type": "772", "speed": "-"}},
			nil, NetClassFlags{}, []string{`node_network_speed_bytes{device="eth0"} 1.25e+08`, `adminstate="up"`}},
		{"down interface: carrier and speed unreadable, flags down", map[string]netIface{"eth1": {"operstate": "down", "flags": "0x1002", "carrier": "-", "speed": "-", "duplex": "-"}},
			nil, NetClassFlags{}, []string{`node_network_up{device="eth1"} 0`, `adminstate="down"`}},
		{"no flags file: adminstate unknown", map[string]netIface{"eth0": {"flags": "-"}}, nil, NetClassFlags{}, []string{`adminstate="unknown"`}},
		{"numbers that do not parse are 0", map[string]netIface{"eth0": {"mtu": "lots", "ifindex": "0x1f"}}, nil, NetClassFlags{},
			[]string{`node_network_mtu_bytes{device="eth0"} 0`, `node_network_iface_id{device="eth0"} 31`}},
		{"unknown speed kept", map[string]netIface{"eth0": {"speed": "-1"}}, nil, NetClassFlags{}, []string{`node_network_speed_bytes{device="eth0"} -125000`}},
		{"unknown speed ignored", map[string]netIface{"eth0": {"speed": "-1"}}, nil, NetClassFlags{IgnoreInvalidSpeed: true}, []string{`node_network_mtu_bytes{device="eth0"} 1500`}},
		{"ignored devices", map[string]netIface{"eth0": {}, "veth1": {}, "veth2": {}}, nil, NetClassFlags{IgnoredDevices: "^veth"}, []string{`device="eth0"`}},
		{"a regular file in class/net is no interface", map[string]netIface{"bond0": {}}, []string{"bonding_masters"}, NetClassFlags{}, []string{`device="bond0"`}},
		{"a long alias is cut at 128 bytes", map[string]netIface{"eth0": {"ifalias": long}}, nil, NetClassFlags{}, []string{`ifalias="` + long[:128] + `"`}},
		{"no interfaces", map[string]netIface{}, nil, NetClassFlags{}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeNet(t, dir, tc.ifaces, tc.extra...)
			c := newNetClass(t, dir, tc.flags)
			for range 2 {
				got := sameNetClass(t, c, dir, tc.flags)
				for _, w := range tc.want {
					if !strings.Contains(got, w) {
						t.Errorf("output lacks %s:\n%s", w, got)
					}
				}
			}
		})
	}
}

// TestNetClassFailsAsNodeExporterDoes: no class/net at all is "no data"
// for both, and an attribute that is a directory is no file for both.
func TestNetClassFailsAsNodeExporterDoes(t *testing.T) {
	dir := t.TempDir()
	c := newNetClass(t, dir, NetClassFlags{})
	sameNetClass(t, c, dir, NetClassFlags{})
	if _, err := gatherText(t, c); !errors.Is(err, ErrNoData) {
		t.Errorf("without class/net: %v, want ErrNoData", err)
	}

	// A directory where an attribute file should be.
	writeNet(t, dir, map[string]netIface{"eth0": {"mtu": "-"}})
	if err := os.Mkdir(filepath.Join(dir, "class", "net", "eth0", "mtu"), 0o755); err != nil {
		t.Fatal(err)
	}
	sameNetClass(t, c, dir, NetClassFlags{}) // both list it as no regular file

}

// TestNetClassFollowsChanges: a fixture changed between gathers (an
// interface gone, one new, a value changed) gives node_exporter's output
// each time.
func TestNetClassFollowsChanges(t *testing.T) {
	dir := t.TempDir()
	c := newNetClass(t, dir, NetClassFlags{})
	steps := []map[string]netIface{
		{"eth0": {}, "eth1": {}},
		{"eth0": {"mtu": "9000", "operstate": "down"}},
		{"eth0": {}, "eth2": {"address": "02:00:00:00:00:02"}},
	}
	for i, ifaces := range steps {
		writeNet(t, dir, ifaces)
		got := sameNetClass(t, c, dir, NetClassFlags{})
		if n := strings.Count(got, "node_network_up{"); n != len(ifaces) {
			t.Errorf("step %d: %d interfaces reported, want %d", i, n, len(ifaces))
		}
	}
}

func TestNetClassConfig(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{ProcPath: "/proc"}, "sysfs path is empty (give --path.sysfs)"},
		{Config{ProcPath: "/proc", SysPath: "/sys", NetClass: NetClassFlags{IgnoredDevices: "("}}, "--collector.netclass.ignored-devices: error parsing regexp"},
	} {
		_, err := NewNetClass(tc.cfg, discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewNetClass(%+v) = %v, want %q", tc.cfg, err, tc.want)
		}
	}
	_, err := New("netclass", Config{ProcPath: "/proc", SysPath: "/sys", NetClass: NetClassFlags{Netlink: true}}, discard)
	if !errors.Is(err, ErrNotNative) {
		t.Errorf("with --collector.netclass.netlink: %v, want ErrNotNative", err)
	}
	if !slices.Contains(Names(), "netclass") {
		t.Errorf("Names() = %v lacks netclass", Names())
	}
}
