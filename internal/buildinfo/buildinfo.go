// Package buildinfo gives both binaries their --version text and their
// <program>_build_info metric from github.com/prometheus/common/version,
// as every Prometheus binary has them: the Makefile sets version.Version,
// Revision and Branch with -ldflags -X; in a plain `go build` the revision
// comes from the module's build information (vcs.revision, which
// prometheus/common/version reads itself) and the version from the one the
// go command stamped, filled in here.
package buildinfo

import (
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/common/version"
)

// Fill sets what the linker flags did not set from the build information
// the go command stamped: version.Version to the main module's version (a
// pseudo-version from the VCS, or "(devel)"), version.BuildDate to the
// commit's time (vcs.time). It is idempotent; Print and Collector call it.
func Fill() {
	bi, ok := debug.ReadBuildInfo()
	if version.Version == "" {
		version.Version = "(devel)"
		if ok && bi.Main.Version != "" {
			version.Version = bi.Main.Version
		}
	}
	if version.BuildDate == "" && ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.time" {
				version.BuildDate = s.Value
			}
		}
	}
}

// Print is the --version text of program: version, branch, revision,
// build user and date, Go version, platform and build tags.
func Print(program string) string {
	Fill()
	return version.Print(program)
}

// Collector is program_build_info: 1, labelled with version, revision,
// branch, goversion, goos, goarch and tags, and the extra labels.
func Collector(program string, extra prometheus.Labels) prometheus.Collector {
	Fill()
	return versioncollector.NewCollector(program, versioncollector.WithExtraConstLabels(extra))
}

// ModuleVersion is the version of the module at path linked into this
// binary, from its build information: right in any build, where a -X flag
// could go stale. "unknown" when the binary was built without modules.
func ModuleVersion(path string) string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	for _, m := range bi.Deps {
		if m.Path == path {
			if m.Replace != nil && m.Replace.Version != "" {
				return m.Replace.Version
			}
			return m.Version
		}
	}
	return "unknown"
}
