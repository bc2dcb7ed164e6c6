#!/usr/bin/env bash
# Build the Debian packages: snapshot the tree into a scratch directory, add packaging/debian as
# ./debian there (the repository root never gets a debian/ directory), run
# dpkg-buildpackage -us -uc -b, and move the results into OUT.
# Usage: build-deb.sh OUT VERSION [JOBS]. KEEP_DEB_SRC=1 keeps the scratch directory.
# The scratch directory is outside the build directory on purpose: the top-level Makefile
# includes every "*.d" it finds below $(BUILD), and a package tree has rules.d, sysusers.d...
set -euo pipefail
out=$1 version=$2 jobs=${3:-auto}
here=$(cd "$(dirname "$0")/../.." && pwd)
cd "$here"
cl=$(dpkg-parsechangelog -l packaging/debian/changelog -S Version)
[[ $cl == "$version" ]] ||
  echo "deb: warning: packaging/debian/changelog says $cl, the Makefile's VERSION is $version" >&2
scratch=$(mktemp -d "${TMPDIR:-/tmp}/avma-deb.XXXXXX")
if [[ ${KEEP_DEB_SRC:-} == 1 ]]; then
  echo "deb: scratch tree kept in $scratch" >&2
else
  trap 'rm -rf "$scratch"' EXIT
fi
src=$scratch/avma-$version
bash packaging/tools/snapshot-tree.sh "$src" "${BUILD_DIR:-build}"
cp -a packaging/debian "$src/debian"
(cd "$src" && dpkg-buildpackage -us -uc -b -J"$jobs")
rm -rf "$out"
mkdir -p "$out"
mv "$scratch"/*.deb "$scratch"/*.buildinfo "$scratch"/*.changes "$out"/
ls -l "$out"
