#!/usr/bin/env bash
# check-settings: every setting of the agents' tables (host-agent/host-config.c,
# guest-agent/guest-config.c, dumped by settings-dump) is documented in its man page with its
# range and default, so docs and code cannot drift. In the page's section for the group, the
# setting's entry (from its ".B key=" line to the next .TP/.SH) must say
#   "Default" followed by the default (bold or italic; an empty default: "Empty"), and
#   for an integer "Range: MIN to MAX." (with the unit when there is one), and
#   for a choice or a bool every value it accepts.
# usage: check-settings.sh SETTINGS-DUMP MANDIR
set -u
dump=$1 mandir=$2
lines=$("$dump") || { echo "check-settings: $dump failed" >&2; exit 1; }
fails=0 count=0
# The text of the entry of KEY in section [GROUP] of PAGE, roff escapes and fonts removed.
entry() {
  awk -v g="[$2]" -v k="$3" '
    /^\.SH / { sect = $0; sub(/^\.SH +"?/, "", sect); sub(/"$/, "", sect); inent = 0; next }
    sect == g && /^\.(B|BI|BR|IB)[[:space:]]/ {
      line = $0; gsub(/"/, "", line)
      if (index(line, " " k "=") == 3 || index(line, " " k "=") == 4) { inent = 1; next }
    }
    inent && /^\.(TP|SH)/ { inent = 0 }
    inent && /^\.TQ/ { next }
    inent { print }' "$mandir/$1" |
    sed -e 's/^\.[A-Z][A-Z]* //' -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' -e 's/"//g' | tr '\n' ' ' |
    tr -s ' '
}
# Tabs are whitespace to read, which would merge empty fields: split at \037 instead.
while IFS=$'\037' read -r page group key type min max def choices unit doc; do
  count=$((count + 1))
  text=$(entry "$page" "$group" "$key")
  where="$page: [$group] $key"
  if [[ -z $text ]]; then
    echo "check-settings: $where: not documented (no '.B $key=' entry in section [$group])" >&2
    fails=$((fails + 1)); continue
  fi
  if [[ -n $def ]]; then
    [[ $text == *"Default $def"* || $text == *"Default: $def"* ]] ||
      { echo "check-settings: $where: the page does not give its default '$def'" >&2; fails=$((fails + 1)); }
  else
    [[ $text == *Empty* ]] ||
      { echo "check-settings: $where: its default is empty, the page does not say so ('Empty')" >&2; fails=$((fails + 1)); }
  fi
  if [[ $type == int ]]; then
    want="Range: $min to $max"
    [[ -n $unit ]] && want="$want $unit"
    [[ $text == *"$want."* ]] ||
      { echo "check-settings: $where: the page does not give its range '$want.'" >&2; fails=$((fails + 1)); }
  fi
  if [[ -n $choices ]]; then
    IFS='|' read -ra vals <<<"$choices"
    for v in "${vals[@]}"; do
      # The key's own line names the choices too ("journal= auto | yes | no").
      grep -qE "^\.(B|BR|BI) $key= .*\b$v\b|\b$v\b" <<<"$text $(grep -E "^\.(B|BR|BI) $key=" "$mandir/$page")" ||
        { echo "check-settings: $where: the page does not name the value '$v'" >&2; fails=$((fails + 1)); }
    done
  fi
done < <(tr '\t' '\037' <<<"$lines")
((fails == 0)) || { echo "check-settings: $fails problem(s)" >&2; exit 1; }
echo "check-settings: $count settings, each documented with its range and default"
