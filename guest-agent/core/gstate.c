/* gstate: the guest's durable state record and its GKeyFile-compatible text form. */
#include "gstate.h"

#include "kvp.h"
#include "rfc3339.h"

#include <stdio.h>
#include <string.h>

/* How a field is stored: text (GKeyFile-escaped), RFC 3339 time, boolean, unsigned integer. */
typedef enum { F_STR, F_TIME, F_BOOL, F_UINT } Kind;

typedef struct {
  const char *group, *key;
  Kind kind;
  size_t off, size; /* where in AvmaGState; size: the char array's, for F_STR */
} Field;

#define FLD(g, k, kind, m)                                                                         \
  { g, k, kind, offsetof(AvmaGState, m), sizeof(((AvmaGState *)0)->m) }

/* One table for both directions, in the order (and groups) earlier agents wrote. */
static const Field fields[] = {
    FLD("guest", "id", F_STR, guest_id),
    FLD("key", "key", F_STR, key),
    FLD("key", "installed_at", F_TIME, key_installed_at),
    FLD("licence", "licensed", F_BOOL, licensed),
    FLD("licence", "granted_until", F_TIME, granted_until),
    FLD("licence", "last_attempt", F_TIME, last_attempt),
    FLD("licence", "last_success", F_TIME, last_success),
    FLD("licence", "last_notification", F_STR, last_notification),
    FLD("licence", "last_reason", F_STR, last_reason),
    FLD("licence", "failures", F_UINT, failures),
    FLD("host", "id", F_STR, host_id),
    FLD("host", "name", F_STR, host_name),
    FLD("host", "version", F_STR, host_version),
    FLD("host", "vm_name", F_STR, vm_name),
    FLD("host", "vm_id", F_STR, vm_id),
    FLD("kvp", "published", F_BOOL, published),
    FLD("kvp", "pending_clear", F_BOOL, pending_clear),
};
#define N_FIELDS (sizeof fields / sizeof fields[0])

void avma_gstate_init(AvmaGState *s) {
  memset(s, 0, sizeof *s);
  s->key_version = AVMA_VERSION_UNKNOWN;
  s->key_edition = AVMA_EDITION_UNKNOWN;
}

/* ---- parsing ------------------------------------------------------------------------------ */

static bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static bool fail(char *why, size_t why_len, unsigned line, const char *what, const char *group,
                 const char *key) {
  if (why && why_len) {
    if (key)
      snprintf(why, why_len, "line %u: [%s] %s: %s", line, group, key, what);
    else
      snprintf(why, why_len, "line %u: %s", line, what);
  }
  return false;
}

static bool span_is(const char *s, size_t len, const char *lit) {
  return strlen(lit) == len && memcmp(s, lit, len) == 0;
}

/* Undo GKeyFile's escapes (\s \n \t \r \\) into out (cap bytes with the NUL). */
typedef enum { V_OK, V_BAD_ESCAPE, V_END_ESCAPE, V_TOO_LONG, V_NOT_UTF8 } ValStatus;
static ValStatus unescape(const char *v, size_t len, char *out, size_t cap) {
  size_t o = 0;
  for (size_t i = 0; i < len; i++) {
    char c = v[i];
    if (c == '\\') {
      if (++i == len)
        return V_END_ESCAPE;
      switch (v[i]) {
      case 's':
        c = ' ';
        break;
      case 'n':
        c = '\n';
        break;
      case 't':
        c = '\t';
        break;
      case 'r':
        c = '\r';
        break;
      case '\\':
        c = '\\';
        break;
      default:
        return V_BAD_ESCAPE;
      }
    }
    if (o + 1 >= cap)
      return V_TOO_LONG;
    out[o++] = c;
  }
  out[o] = '\0';
  return avma_utf8_valid(out, o) ? V_OK : V_NOT_UTF8;
}

static bool parse_bool(const char *v) {
  /* As g_key_file_get_boolean with its error ignored: anything else reads as false. */
  return !strcmp(v, "true") || !strcmp(v, "1");
}

static unsigned parse_uint(const char *v) {
  unsigned long long n = 0;
  if (!*v)
    return 0;
  for (const char *p = v; *p; p++) {
    if (*p < '0' || *p > '9' || n > 0xffffffffull / 10)
      return 0; /* not a count: as GKeyFile's getter, read as 0 */
    n = n * 10 + (unsigned)(*p - '0');
  }
  return n > 0xffffffffull ? 0 : (unsigned)n;
}

static bool store(AvmaGState *s, const Field *f, const char *raw, size_t len, unsigned line,
                  char *why, size_t why_len) {
  char buf[AVMA_GSTATE_REASON + 1];
  size_t cap = f->kind == F_STR ? f->size : 64;
  char what[64];
  switch (unescape(raw, len, buf, cap)) {
  case V_OK:
    break;
  case V_BAD_ESCAPE:
    return fail(why, why_len, line, "unknown escape sequence", f->group, f->key);
  case V_END_ESCAPE:
    return fail(why, why_len, line, "escape character at end of line", f->group, f->key);
  case V_NOT_UTF8:
    return fail(why, why_len, line, "value is not UTF-8", f->group, f->key);
  case V_TOO_LONG:
    snprintf(what, sizeof what, "value over %u bytes", (unsigned)(cap - 1));
    return fail(why, why_len, line, what, f->group, f->key);
  }
  char *dst = (char *)s + f->off;
  switch (f->kind) {
  case F_STR:
    memcpy(dst, buf, strlen(buf) + 1);
    break;
  case F_TIME: {
    int64_t t = 0;
    /* As before: an unreadable time is no time; so is one before 1970, which the file cannot
     * hold (it is written as ""). */
    if (!*buf || !avma_rfc3339_parse(buf, &t) || t < 0)
      t = 0;
    memcpy(dst, &t, sizeof t);
    break;
  }
  case F_BOOL: {
    bool b = parse_bool(buf);
    memcpy(dst, &b, sizeof b);
    break;
  }
  case F_UINT: {
    unsigned u = parse_uint(buf);
    memcpy(dst, &u, sizeof u);
    break;
  }
  }
  return true;
}

static bool group_name_ok(const char *g, size_t len) {
  if (!len)
    return false;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)g[i];
    if (c == '[' || c == ']' || c < 0x20 || c == 0x7f)
      return false;
  }
  return true;
}

/* One line (without its '\n'; a trailing '\r' already dropped). */
static bool parse_line(AvmaGState *s, const char *p, size_t len, unsigned line, char *group,
                       size_t group_cap, bool *in_group, char *why, size_t why_len) {
  while (len && is_space(*p))
    p++, len--;
  if (!len || *p == '#')
    return true;
  if (memchr(p, '\0', len))
    return fail(why, why_len, line, "NUL byte", NULL, NULL);
  if (*p == '[') {
    size_t end = len;
    while (end && is_space(p[end - 1]))
      end--;
    if (end < 2 || p[end - 1] != ']' || !group_name_ok(p + 1, end - 2) || end - 2 >= group_cap)
      return fail(why, why_len, line, "bad group name", NULL, NULL);
    memcpy(group, p + 1, end - 2);
    group[end - 2] = '\0';
    *in_group = true;
    return true;
  }
  const char *eq = memchr(p, '=', len);
  if (!eq)
    return fail(why, why_len, line, "neither a group, a comment nor key=value", NULL, NULL);
  if (!*in_group)
    return fail(why, why_len, line, "key=value before any group", NULL, NULL);
  size_t klen = (size_t)(eq - p);
  while (klen && is_space(p[klen - 1]))
    klen--;
  if (!klen)
    return fail(why, why_len, line, "empty key name", NULL, NULL);
  const char *v = eq + 1;
  size_t vlen = len - (size_t)(v - p);
  while (vlen && is_space(*v))
    v++, vlen--;
  for (size_t i = 0; i < N_FIELDS; i++)
    if (!strcmp(fields[i].group, group) && span_is(p, klen, fields[i].key))
      return store(s, &fields[i], v, vlen, line, why, why_len);
  return true; /* a key of a later version: kept out, not an error */
}

bool avma_gstate_parse(AvmaGState *s, const char *text, size_t len, char *why, size_t why_len) {
  if (why && why_len)
    why[0] = '\0';
  char group[64] = "";
  bool in_group = false;
  unsigned line = 0;
  size_t i = 0;
  while (i < len) {
    line++;
    const char *nl = memchr(text + i, '\n', len - i);
    size_t end = nl ? (size_t)(nl - text) : len;
    size_t l = end - i;
    if (l && text[i + l - 1] == '\r')
      l--;
    if (!parse_line(s, text + i, l, line, group, sizeof group, &in_group, why, why_len))
      return false;
    i = end + 1;
  }
  if (*s->guest_id && !avma_uuid_valid(s->guest_id))
    s->guest_id[0] = '\0';
  const AvmaCatalogueEntry *e = *s->key ? avma_catalogue_lookup(s->key) : NULL;
  s->key_is_avma = e != NULL;
  s->key_version = e ? e->version : AVMA_VERSION_UNKNOWN;
  s->key_edition = e ? e->edition : AVMA_EDITION_UNKNOWN;
  return true;
}

/* ---- formatting --------------------------------------------------------------------------- */

typedef struct {
  char *out;
  size_t cap, len;
  bool full;
} Out;

static void put(Out *o, const char *s, size_t n) {
  if (o->full || o->len + n >= o->cap) {
    o->full = true;
    return;
  }
  memcpy(o->out + o->len, s, n);
  o->len += n;
  o->out[o->len] = '\0';
}

static void puts_(Out *o, const char *s) {
  put(o, s, strlen(s));
}

/* As g_key_file_set_string: leading spaces and tabs as \s and \t (GKeyFile strips leading
 * whitespace when reading), and \n \r \\ anywhere; later tabs stay literal. */
static void put_escaped(Out *o, const char *s) {
  bool leading = true;
  for (; *s; s++) {
    if (leading && (*s == ' ' || *s == '\t')) {
      puts_(o, *s == ' ' ? "\\s" : "\\t");
      continue;
    }
    leading = false;
    switch (*s) {
    case '\n':
      puts_(o, "\\n");
      break;
    case '\r':
      puts_(o, "\\r");
      break;
    case '\\':
      puts_(o, "\\\\");
      break;
    default:
      put(o, s, 1);
    }
  }
}

size_t avma_gstate_format(const AvmaGState *s, char *out, size_t cap) {
  Out o = {.out = out, .cap = cap};
  if (cap)
    out[0] = '\0';
  const char *group = NULL;
  for (size_t i = 0; i < N_FIELDS; i++) {
    const Field *f = &fields[i];
    if (!group || strcmp(group, f->group)) {
      if (group)
        puts_(&o, "\n"); /* a blank line between groups, as GKeyFile writes */
      puts_(&o, "[");
      puts_(&o, f->group);
      puts_(&o, "]\n");
      group = f->group;
    }
    puts_(&o, f->key);
    puts_(&o, "=");
    const char *src = (const char *)s + f->off;
    char buf[AVMA_RFC3339_LEN > 16 ? AVMA_RFC3339_LEN : 16];
    switch (f->kind) {
    case F_STR: {
      /* A field is always NUL-terminated within its size; never read past it. */
      const char *nul = memchr(src, '\0', f->size);
      size_t n = nul ? (size_t)(nul - src) : f->size - 1;
      char tmp[AVMA_GSTATE_REASON + 1];
      memcpy(tmp, src, n);
      tmp[n] = '\0';
      put_escaped(&o, tmp);
      break;
    }
    case F_TIME: {
      int64_t t;
      memcpy(&t, src, sizeof t);
      avma_rfc3339_format(t, buf);
      puts_(&o, buf);
      break;
    }
    case F_BOOL: {
      bool b;
      memcpy(&b, src, sizeof b);
      puts_(&o, b ? "true" : "false");
      break;
    }
    case F_UINT: {
      unsigned u;
      memcpy(&u, src, sizeof u);
      snprintf(buf, sizeof buf, "%u", u);
      puts_(&o, buf);
      break;
    }
    }
    puts_(&o, "\n");
  }
  if (o.full) {
    if (cap)
      out[0] = '\0';
    return 0;
  }
  return o.len;
}

/* ---- helpers ------------------------------------------------------------------------------ */

const char *avma_gstate_status(const AvmaGState *s, int64_t now) {
  if (s->licensed && s->granted_until > now && s->key_is_avma)
    return "Licensed";
  if (s->last_success && s->key_is_avma)
    return "Notification";
  return "Unlicensed";
}

static bool is_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

bool avma_uuid_valid(const char *s) {
  if (!s)
    return false;
  for (int i = 0; i < 36; i++) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? s[i] != '-' : !is_hex(s[i]))
      return false;
  }
  return s[36] == '\0';
}

void avma_uuid_format_v4(const uint8_t rnd[16], char out[37]) {
  static const char hex[] = "0123456789abcdef";
  uint8_t b[16];
  memcpy(b, rnd, sizeof b);
  b[6] = (uint8_t)((b[6] & 0x0f) | 0x40); /* version 4 */
  b[8] = (uint8_t)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
  char *p = out;
  for (int i = 0; i < 16; i++) {
    if (i == 4 || i == 6 || i == 8 || i == 10)
      *p++ = '-';
    *p++ = hex[b[i] >> 4];
    *p++ = hex[b[i] & 15];
  }
  *p = '\0';
}
