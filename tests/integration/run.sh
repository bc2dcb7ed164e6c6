#!/usr/bin/env bash
# Runs integration test scripts; each sources lib.sh and reports with ok/not_ok.
# Prints a closing "N passed, N failed" line and fails if any check failed.
set -u
here=$(dirname "$0")
pass=0 fail=0
for t in "$@"; do
  echo "== $t"
  start=$SECONDS
  out=$(BUILD=${BUILD:-build} bash "$t" 2>&1)
  rc=$?
  # Wall time per script, for keeping CI within its budget (not a check).
  echo "# $t: $((SECONDS - start)) s"
  echo "$out" | grep -E '^(ok|not ok|#)' || true
  p=$(echo "$out" | grep -c '^ok ')
  f=$(echo "$out" | grep -c '^not ok ')
  if ((rc != 0 && f == 0)); then
    echo "not ok - $t exited $rc"; echo "$out" | tail -20; f=1
  fi
  ((f > 0)) && echo "$out" | grep -A8 '^not ok' | head -60
  pass=$((pass + p)); fail=$((fail + f))
done
echo "integration: $pass passed, $fail failed"
((fail == 0))
