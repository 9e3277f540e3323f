//go:build tools

// This file is never built. It records, for go mod tidy, the packages of
// node_exporter's own main that no hostpush package imports: the
// differential test and cmd/agentbench build node_exporter v1.12.1 from
// this module, so its main's dependencies must stay in go.mod.
package fidelity

import (
	_ "github.com/prometheus/client_golang/prometheus/collectors/version"
	_ "github.com/prometheus/common/promslog/flag"
	_ "github.com/prometheus/exporter-toolkit/web"
	_ "github.com/prometheus/exporter-toolkit/web/kingpinflag"
)
