#!/usr/bin/env bash
# check-state-files: the names of the agents' state files (common/state-files.h) appear as string
# literals nowhere else in the product's C sources: every module takes them from that header.
#
# usage: check-state-files.sh [--tolerate GLOB]... [--allow FILE:NAME]...
#   --tolerate   report the literals of files matching GLOB (relative to the tree) as warnings:
#                a file not yet converted, named in tests/lint.mk with the reason
#   --allow      FILE may hold the literal NAME meaning something else (lint.mk says what)
set -u
here=$(cd "$(dirname "$0")/../.." && pwd)
header=common/state-files.h
tolerate=()
allow=()
while (($#)); do
  case $1 in
  --tolerate) tolerate+=("$2"); shift 2 ;;
  --allow) allow+=("$2"); shift 2 ;;
  *) echo "usage: $0 [--tolerate GLOB]... [--allow FILE:NAME]..." >&2; exit 2 ;;
  esac
done
cd "$here" || exit 2
names=$(sed -n 's/^#define AVMA_[A-Z_]* "\([^"]*\)".*/\1/p' "$header" | sort -u)
[[ -n $names ]] || { echo "check-state-files: no names in $header" >&2; exit 2; }
fails=0 warns=0
while IFS= read -r f; do
  [[ $f == "$header" ]] && continue
  tolerated=0
  for g in "${tolerate[@]}"; do [[ $f == $g ]] && tolerated=1; done
  while IFS= read -r name; do
    [[ " ${allow[*]} " == *" $f:$name "* ]] && continue
    # Not in comments: strip /* ... */ on the line and // tails before looking.
    hits=$(sed -e 's|/\*.*\*/||g' -e 's|//.*||' "$f" | grep -nF "\"$name\"")
    [[ -z $hits ]] && continue
    while IFS= read -r h; do
      if ((tolerated)); then
        echo "check-state-files: warning: $f:${h%%:*}: \"$name\" (use $header)"; warns=$((warns + 1))
      else
        echo "check-state-files: $f:${h%%:*}: \"$name\" is a state file: use its name from $header" >&2
        fails=$((fails + 1))
      fi
    done <<<"$hits"
  done <<<"$names"
done < <(git ls-files 'common/*.[ch]' 'host-agent/*.[ch]' 'guest-agent/*.[ch]' 'guest-agent/core/*.[ch]' 'guest-agent/win32/*.[ch]')
((fails == 0)) || exit 1
echo "check-state-files: $(wc -l <<<"$names") names, only in $header ($warns tolerated)"
