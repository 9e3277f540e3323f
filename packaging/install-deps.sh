#!/bin/sh
# install-deps.sh installs the Debian packages that building, running and
# testing hostpush need, and only those that are missing. It is idempotent:
# a second run installs nothing and says so.
#
# Usage: packaging/install-deps.sh [run|test|acceptance|bench]   (default: test)
set -eu

want="prometheus-pushgateway prometheus"
# gcc: bin/imageserver is built with cgo, and no package below pulls a C
# compiler in (a fresh Debian 12 has none). iproute2: the native netclass
# collector's test makes veth pairs in a network namespace of its own.
case "${1:-test}" in
run) want="$want libvips-dev pkg-config gcc" ;;
test) want="$want libvips-dev pkg-config gcc victoria-metrics lintian systemd iproute2" ;;
acceptance) want="$want libvips-dev pkg-config gcc lintian systemd systemd-container debootstrap dpkg-dev" ;; # dpkg-dev: dpkg-shlibdeps for the imageserver .deb
bench) want="$want curl" ;; # make bench-agent: the replaced push script uses curl
*) echo "install-deps.sh: unknown profile '$1' (allowed: run, test, acceptance, bench)" >&2; exit 2 ;;
esac

missing=""
for p in $want; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done

if [ -z "$missing" ]; then
	echo "install-deps: all Debian packages present ($want)"
	exit 0
fi
if [ "$(id -u)" != 0 ]; then
	echo "install-deps: missing Debian packages:$missing; run this script as root to install them" >&2
	exit 1
fi
echo "install-deps: installing Debian packages:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq || echo "install-deps: apt-get update reported errors; trying the install anyway" >&2
# --no-install-recommends keeps the set small; the Debian units of the
# servers are not started by the tests (they start their own on loopback).
apt-get install -y -qq --no-install-recommends $missing >/dev/null
# Debian starts the packaged daemons on install; the project starts its own
# on free loopback ports, so leave the system ones stopped and disabled.
for svc in prometheus prometheus-pushgateway victoria-metrics prometheus-node-exporter; do
	if systemctl list-unit-files "$svc.service" >/dev/null 2>&1; then
		systemctl disable --now "$svc.service" >/dev/null 2>&1 || true
	fi
done
echo "install-deps: done"
