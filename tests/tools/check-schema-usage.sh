#!/usr/bin/env bash
# Fails when agent code names a KVP key the schema lacks: every AVMA_KEY_<Name> identifier and
# every string literal passed as a key to the record builders must be a schema key.
set -euo pipefail
schema=$1
mapfile -t keys < <(awk '!/^[ \t]*(#|@|$)/ {print $1}' "$schema")
declare -A known=()
for k in "${keys[@]}"; do known[$k]=1; done
srcs=$(git ls-files 'common/*.c' 'common/*.h' 'host-agent/*.c' 'host-agent/*.h' 'guest-agent/*.c' \
  'guest-agent/*.h' 'tests/bench/*.c' 'tests/tools/*.c')
bad=0
while read -r id; do
  name=${id#AVMA_KEY_}
  [[ $name == _COUNT ]] && continue
  if [[ -z ${known[$name]:-} ]]; then echo "schema-usage: $id is not in $schema"; bad=1; fi
done < <(grep -ohE '(^|[^"A-Za-z0-9_])AVMA_KEY_[A-Za-z0-9_]+' $srcs | grep -oE 'AVMA_KEY_[A-Za-z0-9_]+' |
  sort -u) # a string such as the journal field "AVMA_KEY_LAST5" is not a key identifier
# Literal keys handed to the raw builders (GET/DELETE key lists, stored records).
while read -r lit; do
  [[ -z ${known[$lit]:-} ]] && { echo "schema-usage: key \"$lit\" is not in $schema"; bad=1; }
done < <(grep -ohE 'avma_record_(list_add_raw\([^,]+,[^,]+|str\([^,]+), *"[^"]+"' $srcs |
  sed -E 's/.*"([^"]+)"$/\1/' | sort -u)
n=$(grep -ohE '(^|[^"A-Za-z0-9_])AVMA_KEY_[A-Za-z0-9_]+' $srcs | grep -oE 'AVMA_KEY_[A-Za-z0-9_]+' |
  sort -u | wc -l)
((bad == 0)) && echo "schema-usage: all $n keys used in code are in the schema"
exit $bad
