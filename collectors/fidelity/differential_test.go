package fidelity

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
)

// TestDifferentialNodeExporter runs node_exporter and hostpush --dry-run on
// this machine with the same collector flags (hostpush's defaults, which
// are node_exporter's defaults plus hostpush's extras) and compares every
// node_* family's name, type, help and label names. Values differ between two
// gathers; names and labels may not.
func TestDifferentialNodeExporter(t *testing.T) {
	t.Parallel()
	flags := hostpushDefaultFlags()
	t.Logf("collector flags on both sides: %s", strings.Join(flags, " "))
	neFams := scrapeNodeExporter(t, flags)
	hp := runHostpush(t, t.TempDir(), "--dry-run")
	hpFams := parseFamilies(t, "hostpush --dry-run", hp)

	if diffs := compareSignatures(neFams, hpFams); len(diffs) > 0 {
		t.Errorf("hostpush and node_exporter %s differ on this machine (%d node_* families):\n%s",
			nodeExporterModule(t).Version, len(diffs), strings.Join(diffs, "\n"))
	}
	if n := countNode(neFams); n < 100 {
		t.Errorf("node_exporter exposed only %d node_* families: the comparison is too thin to mean anything", n)
	}
	t.Logf("compared %d node_* families", countNode(neFams))

	// hostpush_build_info stands in for node_exporter_build_info.
	bi := hpFams["hostpush_build_info"]
	if want := nodeExporterModule(t).Version; bi == nil || len(bi.GetMetric()) != 1 || label(bi.GetMetric()[0], "node_exporter_version") != want {
		t.Errorf("hostpush_build_info with node_exporter_version=%q missing: %v", want, bi)
	}
}

// TestNetstatFieldsWidened checks the recipe the README gives for
// node_netstat_Tcp_MaxConn: widening --collector.netstat.fields in the
// configuration file adds it, on both sides alike.
func TestNetstatFieldsWidened(t *testing.T) {
	t.Parallel()
	const name = "node_netstat_Tcp_MaxConn"
	def := parseFamilies(t, "hostpush --dry-run", runHostpush(t, t.TempDir(), "--dry-run"))
	if def[name] != nil {
		t.Errorf("%s present with the default netstat fields: the README's decision (keep node_exporter's default) no longer matches", name)
	}
	dir := t.TempDir()
	cfg := dir + "/hostpush.yml"
	writeFile(t, cfg, "collectors:\n  flags:\n    netstat.fields: '"+widenedNetstatFields+"'\n")
	wide := parseFamilies(t, "hostpush --dry-run (wide netstat fields)", runHostpush(t, dir, "--dry-run", "--config.file="+cfg))
	if wide[name] == nil {
		t.Errorf("%s missing although collectors.flags.netstat.fields includes Tcp_MaxConn", name)
	}
}

// widenedNetstatFields is node_exporter's default --collector.netstat.fields
// with Tcp_MaxConn added, as the README gives it.
const widenedNetstatFields = `^(.*_(InErrors|InErrs)|Ip_Forwarding|Ip(6|Ext)_(InOctets|OutOctets)|Icmp6?_(InMsgs|OutMsgs)|TcpExt_(Listen.*|Syncookies.*|TCPSynRetrans|TCPTimeouts|TCPOFOQueue|TCPRcvQDrop)|Tcp_(ActiveOpens|InSegs|OutSegs|OutRsts|PassiveOpens|RetransSegs|CurrEstab|MaxConn)|Udp6?_(InDatagrams|OutDatagrams|NoPorts|RcvbufErrors|SndbufErrors))$`

// compareSignatures lists the node_* families whose presence, type or
// label names differ, one readable line each.
func compareSignatures(ne, hp map[string]*dto.MetricFamily) []string {
	names := map[string]bool{}
	for n := range ne {
		names[n] = true
	}
	for n := range hp {
		names[n] = true
	}
	var diffs []string
	for n := range names {
		if !strings.HasPrefix(n, "node_") {
			continue
		}
		if _, ok := explainedFamilies[n]; ok {
			continue
		}
		a, b := ne[n], hp[n]
		switch {
		case b == nil:
			diffs = append(diffs, fmt.Sprintf("  only in node_exporter: %s %s", n, signature(a)))
		case a == nil:
			diffs = append(diffs, fmt.Sprintf("  only in hostpush:      %s %s", n, signature(b)))
		case signature(a) != signature(b):
			diffs = append(diffs, fmt.Sprintf("  %s: node_exporter %s, hostpush %s", n, signature(a), signature(b)))
		}
	}
	sort.Strings(diffs)
	return diffs
}

func countNode(fams map[string]*dto.MetricFamily) int {
	n := 0
	for name := range fams {
		if strings.HasPrefix(name, "node_") {
			n++
		}
	}
	return n
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}
