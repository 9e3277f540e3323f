package scrape

import (
	"slices"
	"strings"

	dto "github.com/prometheus/client_model/go"
)

// Sanitize makes scraped families pushable as their own group, in place:
//
//   - go_* families are dropped: the Pushgateway exposes its own, rewrites
//     the help of pushed ones that differ (client_golang changed several
//     since the gateway's build) and logs "This is bad" on every push. The
//     server's CPU and memory are in process_*, which are kept.
//   - timestamps are dropped: the gateway refuses pushes that carry them.
//   - labels named like a grouping label (job, instance, extra grouping
//     labels) are renamed exported_<name>, as Prometheus does on a scrape
//     without honor_labels; the gateway would otherwise overwrite them
//     silently with the group's values.
//   - families without metrics are dropped, the rest sorted by name.
func Sanitize(fams []*dto.MetricFamily, reserved []string) []*dto.MetricFamily {
	out := fams[:0]
	for _, mf := range fams {
		if strings.HasPrefix(mf.GetName(), "go_") || len(mf.GetMetric()) == 0 {
			continue
		}
		for _, m := range mf.GetMetric() {
			m.TimestampMs = nil
			renameReserved(m, reserved)
		}
		out = append(out, mf)
	}
	slices.SortFunc(out, func(a, b *dto.MetricFamily) int { return strings.Compare(a.GetName(), b.GetName()) })
	return out
}

// renameReserved renames each reserved label to exported_<name>, prefixing
// again while that name is taken, and keeps the labels sorted by name as
// the exposition formats expect.
func renameReserved(m *dto.Metric, reserved []string) {
	renamed := false
	for _, lp := range m.GetLabel() {
		if !slices.Contains(reserved, lp.GetName()) {
			continue
		}
		name := "exported_" + lp.GetName()
		for hasLabel(m, name) {
			name = "exported_" + name
		}
		lp.Name = &name
		renamed = true
	}
	if renamed {
		slices.SortFunc(m.Label, func(a, b *dto.LabelPair) int { return strings.Compare(a.GetName(), b.GetName()) })
	}
}

func hasLabel(m *dto.Metric, name string) bool {
	for _, lp := range m.GetLabel() {
		if lp.GetName() == name {
			return true
		}
	}
	return false
}
