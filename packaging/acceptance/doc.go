// Package acceptance holds the end-to-end test of the Debian packages under a
// real systemd: a Debian 12 tree booted with systemd-nspawn, the .deb
// installed, upgraded and purged with apt, pushes checked at a real
// Pushgateway on the host's loopback.
//
// The test only builds with the acceptance tag, so that `go test ./...` does
// not boot containers. Run it as root with `make acceptance`, which builds
// the packages first, or directly:
//
//	go test -tags acceptance ./packaging/acceptance/ -v
//
// Environment: HOSTPUSH_ACCEPTANCE_CACHE (where the debootstrap tarball is
// kept; default /var/cache/hostpush-acceptance), HOSTPUSH_ACCEPTANCE_MIRROR
// (the Debian mirror; default the first bookworm source of this machine's apt).
package acceptance
