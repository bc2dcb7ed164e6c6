# Turns kvp-schema/avma-kvp.schema into a C table.
# Usage: awk -v out=DIR/kvp-schema -f gen-schema.awk avma-kvp.schema
# Writes out.h and out.c. Fails (exit 1) on any malformed line, so a bad schema breaks the build.
function fail(msg) { printf "%s:%d: %s\n", FILENAME, FNR, msg > "/dev/stderr"; bad = 1; exit 1 }
function cstr(s) { gsub(/\\/, "\\\\", s); gsub(/"/, "\\\"", s); return "\"" s "\"" }
BEGIN {
  pools["external"] = "AVMA_POOL_EXTERNAL"; pools["guest"] = "AVMA_POOL_GUEST"
  pools["auto"] = "AVMA_POOL_AUTO"; pools["auto-external"] = "AVMA_POOL_AUTO_EXTERNAL"
  pools["auto-internal"] = "AVMA_POOL_AUTO_INTERNAL"
  writers["host"] = "AVMA_WRITER_HOST"; writers["guest"] = "AVMA_WRITER_GUEST"
  split("text avma-key product-version edition notification reason-code rfc3339 uuid uint ipv4-list ipv6-list hostname arch signed-note", tl, " ")
  for (i in tl) { t = toupper(tl[i]); gsub(/-/, "_", t); types[tl[i]] = "AVMA_TYPE_" t }
  n = 0; ne = 0
}
/^[ \t]*(#|$)/ { next }
/^@error[ \t]/ {
  if (NF < 3) fail("@error needs NAME description")
  if ($2 !~ /^[a-z0-9-]+$/) fail("error code must be [a-z0-9-]+: " $2)
  if ($2 in eseen) fail("error code " $2 " given twice")
  eseen[$2] = 1; en[ne] = $2; ed[ne] = $3; for (i = 4; i <= NF; i++) ed[ne] = ed[ne] " " $i; ne++
  next
}
/^@/ {
  d = $1; sub(/^@/, "", d)
  if (NF != 2) fail("directive needs exactly one value")
  if (d in dirs) fail("directive @" d " given twice")
  dirs[d] = $2; next
}
{
  if (NF < 6) fail("key line needs NAME POOL WRITER TYPE MAXLEN description")
  name = $1; pool = $2; writer = $3; type = $4; maxlen = $5
  if (name !~ /^[A-Za-z][A-Za-z0-9]*$/) fail("bad key name " name)
  if (name in seen) fail("key " name " defined twice")
  if (!(pool in pools)) fail("unknown pool " pool)
  if (!(writer in writers)) fail("unknown writer " writer)
  if (!(type in types)) fail("unknown type " type)
  if (maxlen !~ /^[0-9]+$/ || maxlen + 0 < 1 || maxlen + 0 > 2048) fail("maxlen must be 1..2048")
  desc = $6; for (i = 7; i <= NF; i++) desc = desc " " $i
  seen[name] = 1
  names[n] = name; P[n] = pools[pool]; W[n] = writers[writer]; T[n] = types[type]; M[n] = maxlen; D[n] = desc; n++
}
END {
  if (bad) exit 1
  if (ne == 0) { print "schema: at least one @error is required" > "/dev/stderr"; exit 1 }
  if (!("channel" in dirs) || !("metadata-ns" in dirs) || !("metadata-key" in dirs)) {
    print "schema: @channel, @metadata-ns and @metadata-key are required" > "/dev/stderr"; exit 1
  }
  h = out ".h"; c = out ".c"
  print "/* Generated from kvp-schema/avma-kvp.schema by gen-schema.awk: do not edit. */" > h
  print "#pragma once" > h
  print "#define AVMA_CHANNEL_NAME " cstr(dirs["channel"]) > h
  print "#define AVMA_METADATA_NS " cstr(dirs["metadata-ns"]) > h
  print "#define AVMA_METADATA_KEY " cstr(dirs["metadata-key"]) > h
  print "typedef enum {" > h
  for (i = 0; i < n; i++) print "  AVMA_KEY_" names[i] " = " i "," > h
  print "  AVMA_KEY__COUNT = " n > h
  print "} AvmaKeyId;" > h
  print "typedef enum {" > h
  for (i = 0; i < ne; i++) { id = toupper(en[i]); gsub(/-/, "_", id); print "  AVMA_ERR_" id " = " i "," > h }
  print "  AVMA_ERR__COUNT = " ne > h
  print "} AvmaErrorCode;" > h
  print "/* Generated from kvp-schema/avma-kvp.schema by gen-schema.awk: do not edit. */" > c
  print "#include \"schema.h\"" > c
  print "const AvmaKeyDef avma_schema_keys[AVMA_KEY__COUNT] = {" > c
  for (i = 0; i < n; i++)
    printf "  {AVMA_KEY_%s, %s, %s, %s, %s, %d, %s},\n", names[i], cstr(names[i]), P[i], W[i], T[i], M[i], cstr(D[i]) > c
  print "};" > c
  print "const AvmaErrorDef avma_schema_errors[AVMA_ERR__COUNT] = {" > c
  for (i = 0; i < ne; i++) printf "  {%s, %s},\n", cstr(en[i]), cstr(ed[i]) > c
  print "};" > c
}
