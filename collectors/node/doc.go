// Package node embeds Prometheus node_exporter's collectors.
//
// node_exporter registers its 177 options on kingpin's global command line at
// init, and its collectors only exist after that command line was parsed.
// This package is the one place that imports node_exporter: it turns the
// YAML collectors block into node_exporter's own flags (Args, Merge,
// WithExtras), which the binary parses with its own on kingpin's global
// command line, and wraps the enabled collectors in a prometheus.Collector
// that gives each one a deadline and an optional interval (Collector).
package node
