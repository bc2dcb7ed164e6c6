# prom-check.awk: a strict checker of the Prometheus text exposition format (0.0.4), the format
# node_exporter's textfile collector reads. Debian's promtool comes in the 96 MB `prometheus`
# package (a server and 32 packages); this checks the same grammar and the lints that matter:
#   - "# HELP name text" and "# TYPE name counter|gauge|histogram|summary|untyped", at most one
#     each per family, before its samples;
#   - sample lines: name{label="value",...} value [timestamp_ms], with valid metric and label
#     names (no reserved "__" labels), escapes \\ \" \n only, Go floats or NaN/+Inf/-Inf;
#   - a family's samples together, no series twice, counters named *_total, the file ends with
#     a newline and has no NUL or CR.
# Usage: awk -f prom-check.awk FILE; prints each problem and exits 1 when there is one.
function fail(msg) {
  printf "%s:%d: %s: %s\n", FILENAME, NR, msg, $0
  bad = 1
}
function family_of(name) {
  # Samples of histograms and summaries carry suffixes of their family's name.
  if (name in type) return name
  if (name ~ /_(bucket|count|sum)$/) {
    base = name
    sub(/_(bucket|count|sum)$/, "", base)
    if (base in type) return base
  }
  return name
}
BEGIN { bad = 0; last_family = "" }
{
  if (index($0, "\r") || index($0, "\000")) fail("carriage return or NUL")
  if ($0 == "") next
  if ($0 ~ /^#/) {
    if ($0 ~ /^# (HELP|TYPE) /) {
      kind = $2
      name = $3
      if (name !~ /^[a-zA-Z_:][a-zA-Z0-9_:]*$/) { fail("bad metric name in " kind); next }
      if (kind == "TYPE") {
        if (NF != 4 || $4 !~ /^(counter|gauge|histogram|summary|untyped)$/) fail("bad TYPE line")
        if (name in type) fail("second TYPE for " name)
        if (name in seen) fail("TYPE after samples of " name)
        type[name] = $4
        if ($4 == "counter" && name !~ /_total$/) fail("counter not named *_total")
      } else {
        if (name in help) fail("second HELP for " name)
        help[name] = 1
        text = $0
        sub(/^# HELP [^ ]+ ?/, "", text)
        gsub(/\\\\/, "", text)
        if (text ~ /\\[^n]/ || text ~ /\\$/) fail("bad escape in HELP")
      }
    }
    next
  }
  line = $0
  if (!match(line, /^[a-zA-Z_:][a-zA-Z0-9_:]*/)) { fail("bad metric name"); next }
  name = substr(line, 1, RLENGTH)
  rest = substr(line, RLENGTH + 1)
  labels = ""
  if (substr(rest, 1, 1) == "{") {
    rest = substr(rest, 2)
    n = 0
    while (substr(rest, 1, 1) != "}") {
      if (!match(rest, /^[a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\[\\"n])*"/)) {
        fail("bad label pair"); next
      }
      pair = substr(rest, 1, RLENGTH)
      lname = pair
      sub(/=.*/, "", lname)
      if (lname ~ /^__/) fail("reserved label name " lname)
      if (("," labels) ~ ("," lname "=")) fail("label " lname " twice")
      labels = labels lname "=" substr(pair, length(lname) + 2) ","
      rest = substr(rest, RLENGTH + 1)
      if (substr(rest, 1, 1) == ",") rest = substr(rest, 2)
      else if (substr(rest, 1, 1) != "}") { fail("expected , or } after a label"); next }
      if (++n > 64) { fail("too many labels"); next }
    }
    rest = substr(rest, 2)
  }
  if (rest !~ /^ /) { fail("expected a space before the value"); next }
  sub(/^ +/, "", rest)
  nf = split(rest, v, / +/)
  if (nf < 1 || nf > 2) { fail("expected value [timestamp]"); next }
  if (v[1] !~ /^[-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)?$/ && v[1] !~ /^(NaN|[-+]Inf)$/)
    fail("bad value " v[1])
  if (nf == 2 && v[2] !~ /^-?[0-9]+$/) fail("bad timestamp " v[2])
  fam = family_of(name)
  if (fam != last_family && (fam in seen)) fail("samples of " fam " not together")
  last_family = fam
  seen[fam] = 1
  if (fam in type && type[fam] == "counter" && v[1] ~ /^-/) fail("negative counter")
  key = name "{" labels "}"
  if (key in series) fail("series twice: " key)
  series[key] = 1
  samples++
}
END {
  if (NR > 0 && samples == 0) { print FILENAME ": no samples"; bad = 1 }
  exit bad
}
