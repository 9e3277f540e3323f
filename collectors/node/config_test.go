package node

import (
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func TestArgs(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{"empty passes nothing", ``, nil},
		{"enable and disable", "enable: [wifi]\ndisable: [systemd]",
			[]string{"--collector.wifi", "--no-collector.systemd"}},
		{"disable defaults first", "disable_defaults: true\nenable: [cpu]",
			[]string{"--collector.disable-defaults", "--collector.cpu"}},
		{"flags sorted, lists repeated", "flags:\n  sysctl.include: [fs.file-nr, kernel.threads-max]\n  filesystem.mount-points-exclude: ^/run($|/)",
			[]string{"--collector.filesystem.mount-points-exclude=^/run($|/)", "--collector.sysctl.include=fs.file-nr", "--collector.sysctl.include=kernel.threads-max"}},
		{"paths", "paths: {procfs: /host/proc, udev.data: /host/udev}",
			[]string{"--path.procfs=/host/proc", "--path.udev.data=/host/udev"}},
		{"boolean options as flags without a value", "flags: {processes.native: false, cpu.info: true}",
			[]string{"--collector.cpu.info", "--no-collector.processes.native"}},
		{"timeout and intervals are not flags", "timeout: 2s\nintervals: {filesystem: 30s}", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var c Config
			if err := yaml.Unmarshal([]byte(tc.yaml), &c); err != nil {
				t.Fatal(err)
			}
			if err := c.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			if got := c.Args(); !slices.Equal(got, tc.want) {
				t.Errorf("Args() = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestValidateNamesTheKey(t *testing.T) {
	tests := []struct {
		name string
		c    Config
		want string
	}{
		{"unknown collector", Config{Enable: []string{"nosuch"}}, `collectors.enable[0]: unknown collector "nosuch"`},
		{"disable and enable", Config{Enable: []string{"wifi"}, Disable: []string{"wifi"}}, `collectors.disable[0]: "wifi" is also in collectors.enable`},
		{"unknown option", Config{Flags: map[string]FlagValue{"filesystem.nosuch": {"x"}}}, `collectors.flags.filesystem.nosuch: unknown collector option "filesystem.nosuch"`},
		{"collector given as option", Config{Flags: map[string]FlagValue{"systemd": {"true"}}}, `collectors.flags.systemd: unknown collector option "systemd"`},
		{"boolean option", Config{Flags: map[string]FlagValue{"processes.native": {"maybe"}}}, `collectors.flags.processes.native: "maybe" is not one boolean (allowed: true, false)`},
		{"unknown path", Config{Paths: map[string]string{"proc": "/p"}}, `collectors.paths.proc: unknown path "proc" (allowed: procfs, sysfs, rootfs, udev.data)`},
		{"negative timeout", Config{Timeout: -time.Second}, `collectors.timeout: -1s is negative`},
		{"zero interval", Config{Intervals: map[string]time.Duration{"filesystem": 0}}, `collectors.intervals.filesystem: 0s is not a positive duration`},
		{"interval of unknown collector", Config{Intervals: map[string]time.Duration{"nosuch": time.Second}}, `collectors.intervals.nosuch: unknown collector "nosuch"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate() = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestWithExtras(t *testing.T) {
	extras := []string{"--collector.processes", "--collector.systemd", "--collector.interrupts", "--collector.tcpstat"}
	tests := []struct {
		name string
		args []string
		want []string
	}{
		// kingpin refuses a bool flag given twice, so an extra the user set
		// either way is dropped rather than repeated.
		{"the user's --no-collector.X wins", []string{"--no-collector.systemd"}, []string{"--collector.processes", "--collector.interrupts", "--collector.tcpstat", "--no-collector.systemd"}},
		{"the user's --collector.X is not repeated", []string{"--collector.processes", "--collector.wifi"}, []string{"--collector.systemd", "--collector.interrupts", "--collector.tcpstat", "--collector.processes", "--collector.wifi"}},
		{"disable-defaults drops them", []string{"--collector.disable-defaults", "--collector.cpu"}, []string{"--collector.disable-defaults", "--collector.cpu"}},
		{"last setting counts", []string{"--collector.disable-defaults", "--collector.disable-defaults=false"}, append(slices.Clone(extras), "--collector.disable-defaults", "--collector.disable-defaults=false")},
		{"after -- is not a flag", []string{"--", "--collector.disable-defaults"}, append(slices.Clone(extras), "--", "--collector.disable-defaults")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := WithExtras(tc.args); !slices.Equal(got, tc.want) {
				t.Errorf("WithExtras(%q) = %q, want %q", tc.args, got, tc.want)
			}
		})
	}
}

func TestNamesHasEveryKnownCollector(t *testing.T) {
	names := Names()
	for _, n := range append([]string{"cpu", "meminfo", "filesystem", "wifi"}, Extras...) {
		if !slices.Contains(names, n) {
			t.Errorf("Names() lacks %q", n)
		}
	}
	if slices.Contains(names, "disable-defaults") {
		t.Error("Names() lists disable-defaults, which is not a collector")
	}
}

func FuzzFlagValue(f *testing.F) {
	for _, s := range []string{"a", "[a, b]", "{a: b}", "[[a]]", "", "[]", "'x'"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var v FlagValue
		_ = yaml.Unmarshal([]byte(s), &v) // must not panic
	})
}

func TestMergeCommandLineWins(t *testing.T) {
	file := []string{"--collector.systemd", "--collector.filesystem.mount-points-exclude=^/a", "--collector.sysctl.include=x", "--path.procfs=/host/proc"}
	cli := []string{"--no-collector.systemd", "--collector.filesystem.mount-points-exclude", "^/b", "--push.url=http://x"}
	want := []string{"--collector.sysctl.include=x", "--path.procfs=/host/proc", "--no-collector.systemd", "--collector.filesystem.mount-points-exclude", "^/b", "--push.url=http://x"}
	if got := Merge(file, cli); !slices.Equal(got, want) {
		t.Errorf("Merge = %q\nwant    %q", got, want)
	}
}
