// Package native holds hostpush's own implementations of the node_exporter
// collectors that cost the most: processes (most of a gather on busy
// hosts) and netclass (the heaviest on a host as it is). Each one produces
// exactly the metrics of the node_exporter collector whose name it takes
// (families, help texts, types, labels and values), and behaves the same
// when a process, thread or interface disappears mid-read and when a file
// is unreadable or malformed; it only reads less and keeps what it learnt,
// and the files it reads, between gathers.
//
// collectors/node substitutes a native collector for node_exporter's when
// its --collector.<name>.native flag is on (the default). Adding another
// means one file here implementing Collector and one entry in registry:
// the flag, the substitution and the documentation of the flag follow from
// Names.
package native
