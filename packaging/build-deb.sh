#!/usr/bin/env bash
# build-deb.sh builds dist/<package>_<version>_<arch>.deb with nfpm (pinned,
# run through the Go toolchain) from packaging/<package>/nfpm.yaml, then runs
# the quality gates on it: lintian --fail-on error,warning, systemd-analyze
# verify (any stderr fails) and systemd-analyze security (exposure printed and
# held to the limit).
#
# Usage: packaging/build-deb.sh PACKAGE
# Environment: VERSION (default: the VERSION file; a pre-release such as
#   0.2.0-dev becomes the package version 0.2.0~dev, which dpkg sorts
#   before 0.2.0 and after 0.1.0), BIN (default bin/PACKAGE),
#   DIST (default dist), GATES=0 skips the gates (the acceptance test's
#   "newer build"), SOURCE_DATE_EPOCH (default: the last commit's time).
set -euo pipefail
cd "$(dirname "$0")/.."

NFPM="github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.45.2"
MAX_EXPOSURE=2.0

pkg=${1:?usage: packaging/build-deb.sh PACKAGE (allowed: hostpush, imageserver)}
case "$pkg" in
hostpush | imageserver) ;;
*) echo "build-deb: unknown package '$pkg' (allowed: hostpush, imageserver)" >&2; exit 2 ;;
esac

export VERSION=${VERSION:-$(cat VERSION)}
DEB_VERSION=$(printf '%s' "$VERSION" | sed 's/-/~/')
export DEB_VERSION
export BIN=${BIN:-bin/$pkg}
DIST=${DIST:-dist}
case "$(go env GOARCH)" in
386) ARCH=i386 ;;
arm) ARCH=armhf ;;
*) ARCH=$(go env GOARCH) ;;
esac
export ARCH
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
	SOURCE_DATE_EPOCH=$(git log -1 --format=%ct 2>/dev/null || echo 0)
fi
export SOURCE_DATE_EPOCH

if [ ! -x "$BIN" ]; then
	echo "build-deb: $BIN is missing or not executable; run make build first" >&2
	exit 1
fi

# A dynamically linked binary (imageserver, cgo + libvips) depends on the
# packages of its shared libraries, as dpkg-shlibdeps finds them.
SHLIBS_DEPENDS=""
if readelf -d "$BIN" 2>/dev/null | grep -q NEEDED; then
	shl=$(mktemp -d)
	mkdir -p "$shl/debian"
	printf 'Source: %s\n\nPackage: %s\nArchitecture: any\n' "$pkg" "$pkg" >"$shl/debian/control"
	cp "$BIN" "$shl/$pkg"
	SHLIBS_DEPENDS=$(cd "$shl" && dpkg-shlibdeps -O -e "$pkg" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
	rm -rf "$shl"
	if [ -z "$SHLIBS_DEPENDS" ]; then
		echo "build-deb: dpkg-shlibdeps found no dependencies for the dynamically linked $BIN" >&2
		exit 1
	fi
	echo "build-deb: $pkg depends on $SHLIBS_DEPENDS"
fi
export SHLIBS_DEPENDS

export STAGE="$DIST/stage/$pkg"
rm -rf "$STAGE"
mkdir -p "$STAGE"
gzip -9n <"packaging/$pkg/$pkg.1" >"$STAGE/$pkg.1.gz"
gzip -9n <"packaging/$pkg/changelog" >"$STAGE/changelog.gz"

deb="$DIST/${pkg}_${DEB_VERSION}_${ARCH}.deb"
rm -f "$deb"
if ! out=$(go run "$NFPM" pkg --packager deb --config "packaging/$pkg/nfpm.yaml" --target "$deb" 2>&1); then
	echo "build-deb: nfpm failed: $out" >&2
	exit 1
fi
echo "build-deb: built $deb ($(stat -c %s "$deb") bytes, sha256 $(sha256sum "$deb" | cut -c1-16)…, SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH)"

if [ "${GATES:-1}" = 0 ]; then
	exit 0
fi

# Gate 0: the shipped configuration file is valid for the binary shipped.
if [ "$pkg" = hostpush ]; then
	"$BIN" --check-config --config.file=packaging/hostpush/hostpush.yml >/dev/null
	echo "build-deb: $BIN --check-config accepts packaging/hostpush/hostpush.yml"
fi

# Gate 1: lintian.
echo "build-deb: lintian --fail-on error,warning $deb"
lintian --fail-on error,warning --display-level '>=warning' "$deb"
echo "build-deb: lintian: no errors, no warnings"

# Gate 2: systemd-analyze verify on the unpacked package, so that the unit is
# checked with the binaries it names present. verify exits 0 on unknown keys
# and bad values, so any output on stderr is a failure.
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
dpkg-deb -x "$deb" "$root"
# ExecReload's /bin/kill and the targets the units hang off come from the host.
mkdir -p "$root/bin"
cp /bin/kill "$root/bin/kill"
cp -n /lib/systemd/system/*.target "$root/lib/systemd/system/"
for unit in "$root"/lib/systemd/system/*.service; do
	name=$(basename "$unit")
	if ! err=$(systemd-analyze verify --man=no --root="$root" "$unit" 2>&1 >/dev/null) || [ -n "$err" ]; then
		echo "build-deb: systemd-analyze verify $name failed:" >&2
		echo "$err" >&2
		exit 1
	fi
	echo "build-deb: systemd-analyze verify $name: clean"
	# Gate 3: exposure score.
	score=$(systemd-analyze security --offline=true --root="$root" "$unit" 2>&1 |
		sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
	if [ -z "$score" ]; then
		echo "build-deb: systemd-analyze security printed no exposure level for $name" >&2
		systemd-analyze security --offline=true --root="$root" "$unit" >&2 || true
		exit 1
	fi
	echo "build-deb: systemd-analyze security $name: exposure $score (limit $MAX_EXPOSURE)"
	if awk -v s="$score" -v m="$MAX_EXPOSURE" 'BEGIN { exit !(s > m) }'; then
		echo "build-deb: $name exposure $score is above $MAX_EXPOSURE" >&2
		exit 1
	fi
done
