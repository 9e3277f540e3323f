// Package packaging holds what turns the binaries into Debian packages: the
// nfpm configurations, maintainer scripts, copyright files and man pages
// under packaging/<package>/, build-deb.sh with its quality gates, and
// install-deps.sh. Its tests keep the copyright files
// true to the module graph of each binary and the man pages listing every
// flag of each binary's --help; packaging/acceptance installs the packages
// under a real systemd.
package packaging
