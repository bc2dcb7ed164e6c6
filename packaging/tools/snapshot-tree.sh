#!/usr/bin/env bash
# Copy the source tree into DEST for a package build: every file git tracks or would add
# (untracked but not ignored), so uncommitted work is packaged too, and never build output, a
# stray ./debian or the .git directory. Usage: snapshot-tree.sh DEST [EXCLUDED-DIR...]
set -euo pipefail
dest=$1; shift
excl=(build debian "$@")
rm -rf "$dest"
mkdir -p "$dest"
list=$(mktemp)
trap 'rm -f "$list"' EXIT
while IFS= read -r -d '' f; do
  for e in "${excl[@]}"; do
    e=${e%/}
    [[ $f == "$e"/* ]] && continue 2
  done
  [[ -e $f || -L $f ]] && printf '%s\0' "$f"
done < <(git ls-files -z --cached --others --exclude-standard --deduplicate) > "$list"
tar --null -T "$list" -cf - | tar -xf - -C "$dest"
