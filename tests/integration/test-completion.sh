#!/usr/bin/env bash
# Bash completion (packaging/bash-completion/avma) for both CLIs: sourced as bash-completion
# would, with the programs on PATH; the candidates come from the verb table, so every verb
# --help lists is offered.
. "$(dirname "$0")/lib.sh"
here=$(cd "$(dirname "$0")/../.." && pwd)
PATH=$B:$PATH
# shellcheck source=/dev/null
. "$here/packaging/bash-completion/avma"

# comp WORD...: COMPREPLY for the line "WORD..." with the cursor on the last word, sorted.
comp() {
  COMP_WORDS=("$@")
  COMP_CWORD=$(($# - 1))
  COMPREPLY=()
  _avma_complete
  printf '%s\n' "${COMPREPLY[@]}" | sort | paste -sd' '
}

registered() { complete -p "$1" >/dev/null 2>&1; }
check "registered for avma-host" registered avma-host
check "registered for avma-guest" registered avma-guest
eq "avma-host lic<TAB>" "$(comp avma-host lic)" "license"
eq "avma-host license <TAB>" "$(comp avma-host license '')" "set show"
eq "avma-host channel r<TAB>" "$(comp avma-host channel r)" "remove"
eq "avma-host license set --ed<TAB>" "$(comp avma-host license set --ed)" "--edition"
eq "avma-host license set --edition <TAB>" "$(comp avma-host license set --edition '')" "Datacenter Standard"
eq "avma-host events --fo<TAB>" "$(comp avma-host events --fo)" "--follow"
eq "avma-host --state-dir D ev<TAB>" "$(comp avma-host --state-dir /tmp ev)" "events"
eq "avma-host help li<TAB>" "$(comp avma-host help li)" "license"
eq "avma-guest a<TAB>" "$(comp avma-guest a)" "ato"
eq "avma-guest dlv --j<TAB>" "$(comp avma-guest dlv --j)" "--json"
# Every verb --help lists is offered (one table behind both).
for prog in avma-host avma-guest; do
  want=$("$prog" --help | awk '/^Verbs:/{v=1; next} /^$/{v=0} v {print $1}' | sort -u | paste -sd' ')
  got=$(comp "$prog" '' | tr ' ' '\n' | grep -vx help | paste -sd' ')
  eq "$prog <TAB>: the verbs --help lists" "$got" "$want"
done
exit $FAILED
