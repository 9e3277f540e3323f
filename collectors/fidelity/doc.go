// Package fidelity holds the tests that keep hostpush's metrics identical
// to node_exporter's and dashboard 1860 "Node Exporter Full" lit up. It has
// no code of its own: the tests treat the built bin/hostpush as a black box.
//
//   - TestNodeExporterEndToEnd runs node_exporter's own end-to-end test
//     (its fixtures, its flag list, its expected output) against hostpush
//     --dry-run. The flags are taken from end-to-end-test.sh by running the
//     script with a stand-in for ./node_exporter that records its arguments,
//     so a node_exporter upgrade brings its new flags and fixtures along.
//   - TestDifferentialNodeExporter runs node_exporter (built from the module
//     cache) and hostpush on this machine with the same collector flags and
//     compares node_* metric names, types, help texts and label names.
//   - TestProcessesDifferential scrapes node_exporter and hostpush (with
//     its own processes collector, warm) in turn while internal/hostload
//     adds processes and threads that start and exit throughout, and holds
//     the counts to what births between the scrapes allow.
//   - TestDashboard1860 pushes hostpush's default gather through a real
//     Pushgateway into a real Prometheus and checks the 229 metric names the
//     dashboard queries, then (when the dashboard JSON is at hand) evaluates
//     every panel's queries. TestDashboard1860Prometheus3 does the same
//     through Pushgateway 1.11 into Prometheus 3.16 (internal/procs builds
//     and caches them), the releases deploy/ ships.
//
// The package sits beside collectors/node rather than inside it because it
// tests the binary, not that package's internals.
package fidelity
