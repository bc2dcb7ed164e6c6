#!/usr/bin/env bash
# Build the RPM packages from a tarball of the tree with rpmbuild, in a scratch _topdir, and
# copy the tarball and the packages into OUT (OUT/SOURCES, OUT/RPMS/<arch>).
# Usage: build-rpm.sh OUT VERSION. KEEP_RPM_TOP=1 keeps the scratch _topdir.
# The scratch directory is outside the build directory for the reason given in build-deb.sh.
set -euo pipefail
out=$1 version=$2
here=$(cd "$(dirname "$0")/../.." && pwd)
cd "$here"
top=$(mktemp -d "${TMPDIR:-/tmp}/avma-rpm.XXXXXX")
if [[ ${KEEP_RPM_TOP:-} == 1 ]]; then
  echo "rpm: scratch _topdir kept in $top" >&2
else
  trap 'rm -rf "$top"' EXIT
fi
mkdir -p "$top/SOURCES" "$top/tree"
bash packaging/tools/snapshot-tree.sh "$top/tree/avma-$version" "${BUILD_DIR:-build}"
tar -C "$top/tree" --owner=0 --group=0 -czf "$top/SOURCES/avma-$version.tar.gz" "avma-$version"
rm -rf "$top/tree"
# --nodeps: on Debian rpm's own database is empty, so BuildRequires cannot be checked (the
# libraries are installed as Debian packages). On Fedora/RHEL run rpmbuild without it.
rpmbuild -bb --nodeps --define "_topdir $top" --define "avma_version $version" \
  packaging/rpm/avma.spec
rm -rf "$out"
mkdir -p "$out"
cp -a "$top/SOURCES" "$top/RPMS" "$out"/
find "$out" -name '*.rpm' -exec ls -l {} +
