// Package acceptance holds the end-to-end test of the Debian packages under a
// real systemd: for each of Debian 12 (bookworm) and Debian 13 (trixie), a
// debootstrapped tree booted with systemd-nspawn, the .debs installed,
// upgraded (also from the previous release's packages) and purged with apt,
// pushes checked at that release's own Pushgateway running in the container.
//
// The test only builds with the acceptance tag, so that `go test ./...` does
// not boot containers. Run it as root with `make acceptance`, which builds
// the packages first, or directly, for example for one release:
//
//	go test -tags acceptance ./packaging/acceptance/ -v -run 'TestHostpushPackage/trixie'
//
// Environment: HOSTPUSH_ACCEPTANCE_CACHE (where the debootstrap tarballs and
// the previous release's packages are kept; default
// /var/cache/hostpush-acceptance), HOSTPUSH_ACCEPTANCE_MIRROR (the Debian
// mirror; default the Debian source of this machine's apt).
package acceptance
