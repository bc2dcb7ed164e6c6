#!/usr/bin/env bash
# check-event-fields: the 12310 record's field names (the JSON member names of host-agent/
# host-event.c's field table that a 12310 kind carries) appear as string literals nowhere else
# in host-agent/*.c and common/*.c: every writer and reader of a 12310 record goes through it.
#
# usage: check-event-fields.sh [--tolerate FILE]... [FILE...]
#   FILE...      the sources to check (default: host-agent/*.c common/*.c but host-event.c)
#   --tolerate   report the literals of FILE (a glob) as warnings, not failures: a file not yet
#                converted, named in tests/lint.mk with the reason
# A line holding the word "event-field-ok" (in a comment saying why), or the line after a line
# that is only such a comment, is not reported: a literal that only shares a name with a field
# (another format's key, a command-line option, the guest's 12309 record).
# Comments are not code: names in them are not reported.
set -u
here=$(cd "$(dirname "$0")/../.." && pwd)
table=$here/host-agent/host-event.c
tolerate=()
files=()
while (($#)); do
  case $1 in
  --tolerate) tolerate+=("$2"); shift 2 ;;
  *) files+=("$1"); shift ;;
  esac
done
if ((${#files[@]} == 0)); then
  for f in "$here"/host-agent/*.c "$here"/common/*.c; do
    [[ $f == "$table" ]] || files+=("$f")
  done
fi
# The table's entries whose .kinds include a 12310 kind (decision, protocol-level or all);
# 12311's own members (set, version, ...) are common words used for other things.
names=$(awk '
  /\.json = "/ { entry = ""; inentry = 1 }
  inentry { entry = entry $0 }
  inentry && /\}/ {
    inentry = 0
    if (entry ~ /\.kinds = [^}]*K_(ALL|12310|DECISION|INVALID)/) {
      sub(/.*\.json = "/, "", entry); sub(/".*/, "", entry); print entry
    }
  }' "$table" | sort -u)
if [[ -z $names ]]; then
  echo "check-event-fields: no field names found in $table" >&2
  exit 2
fi

# Every string literal outside comments, as FILE:LINE:TEXT (escapes left as written).
literals() {
  awk -v q="'" '
    FNR == 1 { inblock = 0; pass = 0 }
    {
      line = $0; i = 1; n = length(line)
      exempt = pass || line ~ /event-field-ok/
      pass = line ~ /^[ \t]*\/\*.*event-field-ok.*\*\/[ \t]*$/
      while (i <= n) {
        c = substr(line, i, 1); c2 = substr(line, i, 2)
        if (inblock) {
          if (c2 == "*/") { inblock = 0; i += 2 } else i++
          continue
        }
        if (c2 == "/*") { inblock = 1; i += 2; continue }
        if (c2 == "//") break
        if (c == q) {              # a character literal: skip it whole
          i++
          while (i <= n && substr(line, i, 1) != q) i += (substr(line, i, 1) == "\\") ? 2 : 1
          i++
          continue
        }
        if (c == "\"") {
          s = ""; i++
          while (i <= n && substr(line, i, 1) != "\"") {
            if (substr(line, i, 1) == "\\") { s = s substr(line, i, 2); i += 2 }
            else { s = s substr(line, i, 1); i++ }
          }
          i++
          if (!exempt) printf "%s:%d:%s\n", FILENAME, FNR, s
          continue
        }
        i++
      }
    }
  ' "$@"
}

failed=0
tolerated=0
for f in "${files[@]}"; do
  hits=$(literals "$f" | awk -F: -v names="$names" '
    BEGIN { split(names, a, "\n"); for (k in a) want[a[k]] = 1 }
    { text = $0; sub(/^[^:]*:[^:]*:/, "", text); if (text in want) print }')
  [[ -z $hits ]] && continue
  rel=${f#"$here"/}
  level=error
  # shellcheck disable=SC2053 # a pattern: host-agent/report*.c
  for t in "${tolerate[@]}"; do [[ $rel == $t || $f == $t ]] && level=warning; done
  while IFS= read -r h; do
    h=${h#"$here"/}
    echo "$h: $level: 12310 field name as a string literal (use host-event.h)"
  done <<<"$hits"
  if [[ $level == error ]]; then failed=1; else tolerated=$((tolerated + $(wc -l <<<"$hits"))); fi
done
if ((failed)); then
  echo "check-event-fields: FAILED (field names: $(tr "\n" " " <<<"$names"))" >&2
  exit 1
fi
if ((tolerated)); then
  echo "check-event-fields: no 12310 field name outside host-event.c but $tolerated tolerated"
else
  echo "check-event-fields: no 12310 field name outside host-event.c"
fi
