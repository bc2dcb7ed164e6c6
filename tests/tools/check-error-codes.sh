#!/usr/bin/env bash
# Fails when the ERROR codes drift: every @error of the schema must be in kvp-schema/PROTOCOL.md
# and docs/operators.md, and code must name codes through AvmaErrorCode, never as literals handed
# to the refusal helpers.
set -euo pipefail
schema=$1
mapfile -t codes < <(awk '$1 == "@error" {print $2}' "$schema")
bad=0
for c in "${codes[@]}"; do
  for doc in kvp-schema/PROTOCOL.md docs/operators.md; do
    grep -q -- "\`$c\`" "$doc" || { echo "error-codes: $c is not in $doc"; bad=1; }
  done
done
# PROTOCOL.md's table lists no code the schema lacks.
while read -r c; do
  # (A here-string, not a pipe: grep -q ends early and pipefail would take printf's SIGPIPE.)
  grep -qx -- "$c" <<<"$(printf '%s\n' "${codes[@]}")" || { echo "error-codes: PROTOCOL.md lists $c, the schema does not"; bad=1; }
done < <(sed -n '/^## Errors the host answers/,/^## /p' kvp-schema/PROTOCOL.md | grep -oE '^\| `[a-z0-9-]+`' | tr -d '|` ')
if grep -nE '(send_error|refuse)\([^)]*"[a-z0-9-]+"' host-agent/*.c; then
  echo "error-codes: a refusal names its code as a string literal (use AVMA_ERR_*)"; bad=1
fi
((bad == 0)) && echo "error-codes: ${#codes[@]} codes, documented in PROTOCOL.md and operators.md"
exit $bad
