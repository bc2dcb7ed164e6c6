/* evline: the 12309 event as one JSON line, a small JSON object writer, and a reader for the
 * flat objects it writes. */
#include "evline.h"

#include "rfc3339.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FLAT_MAX_MEMBERS 64
#define NEST_MAX 64 /* avma_json_valid and lenient reading */

/* ---- buffer ------------------------------------------------------------------------------- */

void avma_buf_init(AvmaBuf *b) {
  b->data = NULL;
  b->len = b->cap = 0;
  b->failed = false;
}

void avma_buf_free(AvmaBuf *b) {
  free(b->data);
  avma_buf_init(b);
}

static bool reserve(AvmaBuf *b, size_t more) {
  if (b->failed)
    return false;
  if (b->len + more + 1 <= b->cap)
    return true;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < b->len + more + 1) {
    if (cap > SIZE_MAX / 2) {
      b->failed = true;
      return false;
    }
    cap *= 2;
  }
  char *d = realloc(b->data, cap);
  if (!d) {
    b->failed = true;
    return false;
  }
  b->data = d;
  b->cap = cap;
  return true;
}

void avma_buf_append(AvmaBuf *b, const char *s, size_t len) {
  if (!reserve(b, len))
    return;
  if (len)
    memcpy(b->data + b->len, s, len);
  b->len += len;
  b->data[b->len] = '\0';
}

void avma_buf_printf(AvmaBuf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0 || !reserve(b, (size_t)n)) {
    b->failed = true;
    return;
  }
  va_start(ap, fmt);
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
}

/* ---- writer ------------------------------------------------------------------------------- */

/* Length of the valid UTF-8 character at s (strict: no overlongs, surrogates or > U+10FFFF),
 * 0 when there is none. */
static size_t utf8_len(const unsigned char *s, size_t n, uint32_t *cp) {
  if (!n)
    return 0;
  if (s[0] < 0x80) {
    *cp = s[0];
    return 1;
  }
  size_t need;
  uint32_t c, min;
  if ((s[0] & 0xe0) == 0xc0)
    need = 2, c = s[0] & 0x1f, min = 0x80;
  else if ((s[0] & 0xf0) == 0xe0)
    need = 3, c = s[0] & 0x0f, min = 0x800;
  else if ((s[0] & 0xf8) == 0xf0)
    need = 4, c = s[0] & 0x07, min = 0x10000;
  else
    return 0;
  if (n < need)
    return 0;
  for (size_t i = 1; i < need; i++) {
    if ((s[i] & 0xc0) != 0x80)
      return 0;
    c = c << 6 | (s[i] & 0x3f);
  }
  if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
    return 0;
  *cp = c;
  return need;
}

void avma_json_put_string(AvmaBuf *b, const char *str) {
  const unsigned char *s = (const unsigned char *)(str ? str : "");
  size_t n = strlen((const char *)s);
  avma_buf_append(b, "\"", 1);
  for (size_t i = 0; i < n;) {
    uint32_t cp;
    size_t k = utf8_len(s + i, n - i, &cp);
    if (!k) {
      avma_buf_append(b, "\xef\xbf\xbd", 3); /* U+FFFD for each invalid byte */
      i++;
      continue;
    }
    if (cp == '"' || cp == '\\') {
      char esc[2] = {'\\', (char)cp};
      avma_buf_append(b, esc, 2);
    } else if (cp < 0x20 || cp == 0x7f) {
      avma_buf_printf(b, "\\u%04x", (unsigned)cp);
    } else {
      avma_buf_append(b, (const char *)s + i, k);
    }
    i += k;
  }
  avma_buf_append(b, "\"", 1);
}

void avma_json_begin(AvmaJsonObj *o, AvmaBuf *b) {
  o->b = b;
  o->first = true;
  avma_buf_append(b, "{", 1);
}

static void member(AvmaJsonObj *o, const char *name) {
  if (!o->first)
    avma_buf_append(o->b, ",", 1);
  o->first = false;
  avma_json_put_string(o->b, name);
  avma_buf_append(o->b, ":", 1);
}

void avma_json_str(AvmaJsonObj *o, const char *name, const char *value) {
  member(o, name);
  avma_json_put_string(o->b, value);
}

void avma_json_int(AvmaJsonObj *o, const char *name, int64_t value) {
  member(o, name);
  avma_buf_printf(o->b, "%lld", (long long)value);
}

void avma_json_bool(AvmaJsonObj *o, const char *name, bool value) {
  member(o, name);
  avma_buf_append(o->b, value ? "true" : "false", value ? 4 : 5);
}

void avma_json_str_or_null(AvmaJsonObj *o, const char *name, const char *value) {
  if (value) {
    avma_json_str(o, name, value);
    return;
  }
  member(o, name);
  avma_buf_append(o->b, "null", 4);
}

void avma_json_end(AvmaJsonObj *o) {
  avma_buf_append(o->b, "}", 1);
}

void avma_evline_12309(AvmaBuf *b, int64_t now, AvmaNotification n, const char *reason_code,
                       const char *reason, const AvmaGState *s, const AvmaProduct *image) {
  char t[AVMA_RFC3339_LEN], until[AVMA_RFC3339_LEN], last5[6] = "";
  avma_rfc3339_format(now, t);
  avma_rfc3339_format(s->licensed ? s->granted_until : 0, until);
  if (*s->key)
    avma_key_last5(s->key, last5);
  AvmaProduct p = avma_agent_product(s, image);
  AvmaJsonObj o;
  avma_json_begin(&o, b);
  avma_json_str(&o, "time", t);
  avma_json_int(&o, "event_id", 12309);
  avma_json_str(&o, "notification", avma_notification_name(n));
  avma_json_str(&o, "reason", reason ? reason : "");
  avma_json_str(&o, "reason_code", reason_code ? reason_code : "");
  avma_json_str(&o, "vm", s->vm_name);
  avma_json_str(&o, "vm_uuid", s->vm_id);
  avma_json_str(&o, "guest_id", s->guest_id);
  avma_json_str(&o, "guest_version", p.version ? avma_version_name(p.version) : "");
  avma_json_str(&o, "guest_edition", p.edition ? avma_edition_name(p.edition) : "");
  avma_json_str(&o, "key_last5", last5);
  avma_json_str(&o, "host_version", s->host_version);
  avma_json_str(&o, "host_id", s->host_id);
  avma_json_str(&o, "host_name", s->host_name);
  avma_json_str(&o, "granted_until", until);
  avma_json_end(&o);
}

/* ---- flat reader -------------------------------------------------------------------------- */

typedef struct {
  const char *start, *p, *end;
  char *why;
  size_t why_len;
  bool lenient; /* members with other values are checked and left out */
} Lex;

static bool lex_fail(Lex *l, const char *what) {
  if (l->why && l->why_len)
    snprintf(l->why, l->why_len, "%s at byte %u", what, (unsigned)(l->p - l->start));
  return false;
}

static void skip_ws(Lex *l) {
  while (l->p < l->end && (*l->p == ' ' || *l->p == '\t' || *l->p == '\n' || *l->p == '\r'))
    l->p++;
}

static int hex4(const char *p) {
  int v = 0;
  for (int i = 0; i < 4; i++) {
    char c = p[i];
    int d = c >= '0' && c <= '9'   ? c - '0'
            : c >= 'a' && c <= 'f' ? c - 'a' + 10
            : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                   : -1;
    if (d < 0)
      return -1;
    v = v * 16 + d;
  }
  return v;
}

static void put_utf8(AvmaBuf *b, uint32_t c) {
  char u[4];
  size_t n;
  if (c < 0x80)
    u[0] = (char)c, n = 1;
  else if (c < 0x800)
    u[0] = (char)(0xc0 | c >> 6), u[1] = (char)(0x80 | (c & 0x3f)), n = 2;
  else if (c < 0x10000)
    u[0] = (char)(0xe0 | c >> 12), u[1] = (char)(0x80 | (c >> 6 & 0x3f)),
    u[2] = (char)(0x80 | (c & 0x3f)), n = 3;
  else
    u[0] = (char)(0xf0 | c >> 18), u[1] = (char)(0x80 | (c >> 12 & 0x3f)),
    u[2] = (char)(0x80 | (c >> 6 & 0x3f)), u[3] = (char)(0x80 | (c & 0x3f)), n = 4;
  avma_buf_append(b, u, n);
}

/* A string at l->p (which is '"') into a malloc'd C string. */
static bool lex_string(Lex *l, char **out) {
  AvmaBuf b;
  avma_buf_init(&b);
  avma_buf_append(&b, "", 0);
  l->p++;
  for (;;) {
    if (l->p >= l->end) {
      avma_buf_free(&b);
      return lex_fail(l, "unterminated string");
    }
    unsigned char c = (unsigned char)*l->p;
    if (c == '"') {
      l->p++;
      break;
    }
    if (c < 0x20) {
      avma_buf_free(&b);
      return lex_fail(l, "control character in a string");
    }
    if (c != '\\') {
      uint32_t cp;
      size_t k = utf8_len((const unsigned char *)l->p, (size_t)(l->end - l->p), &cp);
      if (!k) {
        avma_buf_free(&b);
        return lex_fail(l, "invalid UTF-8");
      }
      avma_buf_append(&b, l->p, k);
      l->p += k;
      continue;
    }
    if (l->end - l->p < 2) {
      avma_buf_free(&b);
      return lex_fail(l, "unterminated escape");
    }
    char e = l->p[1];
    l->p += 2;
    const char *simple = strchr("\"\\/bfnrt", e);
    if (e && simple) {
      static const char map[] = "\"\\/\b\f\n\r\t";
      avma_buf_append(&b, &map[simple - "\"\\/bfnrt"], 1);
      continue;
    }
    if (e != 'u' || l->end - l->p < 4 || hex4(l->p) < 0) {
      avma_buf_free(&b);
      return lex_fail(l, "bad escape");
    }
    uint32_t cp = (uint32_t)hex4(l->p);
    l->p += 4;
    if (cp >= 0xd800 && cp <= 0xdbff) {
      int lo = l->end - l->p >= 6 && l->p[0] == '\\' && l->p[1] == 'u' ? hex4(l->p + 2) : -1;
      if (lo < 0xdc00 || lo > 0xdfff) {
        avma_buf_free(&b);
        return lex_fail(l, "lone surrogate");
      }
      cp = 0x10000 + ((cp - 0xd800) << 10) + ((uint32_t)lo - 0xdc00);
      l->p += 6;
    } else if ((cp >= 0xdc00 && cp <= 0xdfff) || cp == 0) {
      avma_buf_free(&b);
      return lex_fail(l, cp ? "lone surrogate" : "NUL in a string");
    }
    put_utf8(&b, cp);
  }
  if (b.failed) {
    avma_buf_free(&b);
    return lex_fail(l, "out of memory");
  }
  *out = b.data;
  return true;
}

static char *dup_span(const char *s, size_t n) {
  char *c = malloc(n + 1);
  if (c) {
    memcpy(c, s, n);
    c[n] = '\0';
  }
  return c;
}

static bool lex_word(Lex *l, const char *w) {
  size_t n = strlen(w);
  if ((size_t)(l->end - l->p) < n || memcmp(l->p, w, n))
    return false;
  l->p += n;
  return true;
}

static bool lex_value(Lex *l, AvmaJsonMember *m) {
  if (l->p >= l->end)
    return lex_fail(l, "truncated");
  char c = *l->p;
  const char *start = l->p;
  if (c == '"') {
    m->type = AVMA_JV_STRING;
    return lex_string(l, &m->text);
  }
  if (c == '{' || c == '[')
    return lex_fail(l, "nested value");
  if (lex_word(l, "true") || lex_word(l, "false")) {
    m->type = AVMA_JV_BOOL;
    m->boolean = c == 't';
  } else if (lex_word(l, "null")) {
    m->type = AVMA_JV_NULL;
  } else if (c == '-' || (c >= '0' && c <= '9')) {
    bool neg = c == '-';
    if (neg)
      l->p++;
    const char *d = l->p;
    uint64_t v = 0;
    while (l->p < l->end && *l->p >= '0' && *l->p <= '9') {
      unsigned digit = (unsigned)(*l->p - '0');
      if (v > (UINT64_MAX - digit) / 10)
        return lex_fail(l, "integer out of range");
      v = v * 10 + digit;
      l->p++;
    }
    size_t nd = (size_t)(l->p - d);
    if (!nd || (nd > 1 && *d == '0'))
      return lex_fail(l, "bad number");
    if (l->p < l->end && (*l->p == '.' || *l->p == 'e' || *l->p == 'E'))
      return lex_fail(l, "not an integer");
    if ((!neg && v > INT64_MAX) || (neg && v > (uint64_t)INT64_MAX + 1))
      return lex_fail(l, "integer out of range");
    m->type = AVMA_JV_INT;
    m->num = neg ? (int64_t)(0 - v) : (int64_t)v;
  } else {
    return lex_fail(l, "bad value");
  }
  m->text = dup_span(start, (size_t)(l->p - start));
  return m->text != NULL || lex_fail(l, "out of memory");
}

/* A number as RFC 8259 writes it (fraction and exponent too), at l->p. */
static bool skip_number(Lex *l) {
  const char *p = l->p, *e = l->end;
#define DIGIT(q) ((q) < e && *(q) >= '0' && *(q) <= '9')
  if (p < e && *p == '-')
    p++;
  if (!DIGIT(p))
    return lex_fail(l, "bad number");
  if (*p == '0')
    p++;
  else
    while (DIGIT(p))
      p++;
  if (p < e && *p == '.') {
    if (!DIGIT(p + 1))
      return lex_fail(l, "bad number");
    for (p++; DIGIT(p); p++)
      ;
  }
  if (p < e && (*p == 'e' || *p == 'E')) {
    p++;
    if (p < e && (*p == '+' || *p == '-'))
      p++;
    if (!DIGIT(p))
      return lex_fail(l, "bad number");
    while (DIGIT(p))
      p++;
  }
#undef DIGIT
  l->p = p;
  return true;
}

/* Any JSON value at l->p, checked and skipped; nesting is bounded so a hostile line cannot
 * exhaust the stack. */
static bool skip_value(Lex *l, int depth) {
  if (l->p >= l->end)
    return lex_fail(l, "truncated");
  char c = *l->p;
  if (c == '"') {
    char *s = NULL;
    bool ok = lex_string(l, &s);
    free(s);
    return ok;
  }
  if (lex_word(l, "true") || lex_word(l, "false") || lex_word(l, "null"))
    return true;
  if (c == '-' || (c >= '0' && c <= '9'))
    return skip_number(l);
  if (c != '{' && c != '[')
    return lex_fail(l, "bad value");
  if (depth >= NEST_MAX)
    return lex_fail(l, "nested too deeply");
  char close = c == '{' ? '}' : ']';
  l->p++;
  skip_ws(l);
  if (l->p < l->end && *l->p == close) {
    l->p++;
    return true;
  }
  for (;;) {
    skip_ws(l);
    if (c == '{') {
      if (l->p >= l->end || *l->p != '"')
        return lex_fail(l, l->p >= l->end ? "truncated" : "expected a member name");
      char *name = NULL;
      bool ok = lex_string(l, &name);
      free(name);
      if (!ok)
        return false;
      skip_ws(l);
      if (l->p >= l->end || *l->p != ':')
        return lex_fail(l, l->p >= l->end ? "truncated" : "expected ':'");
      l->p++;
      skip_ws(l);
    }
    if (!skip_value(l, depth + 1))
      return false;
    skip_ws(l);
    if (l->p >= l->end)
      return lex_fail(l, "truncated");
    if (*l->p == close) {
      l->p++;
      return true;
    }
    if (*l->p != ',')
      return lex_fail(l, c == '{' ? "expected ',' or '}'" : "expected ',' or ']'");
    l->p++;
  }
}

/* Lenient reading: true with *skip set when the value at l->p is one the flat reader does not
 * keep (an object, an array, a fraction or exponent, an integer beyond int64_t), now skipped. */
static bool lenient_skip(Lex *l, bool *skip) {
  *skip = false;
  if (l->p >= l->end)
    return true;
  char c = *l->p;
  if (c == '{' || c == '[') {
    *skip = true;
    return skip_value(l, 1);
  }
  if (c != '-' && (c < '0' || c > '9'))
    return true;
  const char *s = l->p;
  if (!skip_number(l))
    return false;
  size_t n = (size_t)(l->p - s);
  char num[24];
  bool plain = n < sizeof num && !memchr(s, '.', n) && !memchr(s, 'e', n) && !memchr(s, 'E', n);
  if (plain) {
    memcpy(num, s, n);
    num[n] = '\0';
    errno = 0;
    (void)strtoll(num, NULL, 10);
    plain = errno != ERANGE;
  }
  if (plain)
    l->p = s; /* an integer lex_value reads */
  else
    *skip = true;
  return true;
}

void avma_json_flat_free(AvmaJsonFlat *o) {
  for (size_t i = 0; i < o->n; i++) {
    free(o->m[i].name);
    free(o->m[i].text);
  }
  free(o->m);
  o->m = NULL;
  o->n = 0;
}

static bool flat_parse(AvmaJsonFlat *o, Lex *l) {
  skip_ws(l);
  if (l->p >= l->end || *l->p != '{')
    return lex_fail(l, "not an object");
  l->p++;
  skip_ws(l);
  if (l->p < l->end && *l->p == '}') {
    l->p++;
    return true;
  }
  for (;;) {
    skip_ws(l);
    if (l->p >= l->end)
      return lex_fail(l, "truncated");
    if (*l->p != '"')
      return lex_fail(l, "expected a member name");
    if (o->n == FLAT_MAX_MEMBERS)
      return lex_fail(l, "too many members");
    AvmaJsonMember *m = &o->m[o->n];
    memset(m, 0, sizeof *m);
    o->n++; /* counted now, so a failure below frees what was allocated */
    if (!lex_string(l, &m->name))
      return false;
    skip_ws(l);
    if (l->p >= l->end || *l->p != ':')
      return lex_fail(l, l->p >= l->end ? "truncated" : "expected ':'");
    l->p++;
    skip_ws(l);
    bool skip = false;
    if (l->lenient && !lenient_skip(l, &skip))
      return false;
    if (skip) {
      free(m->name);
      m->name = NULL;
      o->n--;
    } else if (!lex_value(l, m)) {
      return false;
    }
    skip_ws(l);
    if (l->p >= l->end)
      return lex_fail(l, "truncated");
    if (*l->p == '}') {
      l->p++;
      return true;
    }
    if (*l->p != ',')
      return lex_fail(l, "expected ',' or '}'");
    l->p++;
  }
}

bool avma_json_flat_parse_ex(AvmaJsonFlat *o, const char *text, size_t len, bool lenient,
                             size_t *used, char *why, size_t why_len) {
  o->n = 0;
  o->m = calloc(FLAT_MAX_MEMBERS, sizeof *o->m);
  if (why && why_len)
    why[0] = '\0';
  Lex l = {.start = text,
           .p = text,
           .end = text + len,
           .why = why,
           .why_len = why_len,
           .lenient = lenient};
  if (!o->m)
    return lex_fail(&l, "out of memory");
  bool ok = flat_parse(o, &l);
  if (ok && used) {
    *used = (size_t)(l.p - text);
  } else if (ok) {
    skip_ws(&l);
    if (l.p != l.end)
      ok = lex_fail(&l, "trailing bytes");
  }
  if (!ok)
    avma_json_flat_free(o);
  return ok;
}

bool avma_json_flat_parse(AvmaJsonFlat *o, const char *text, size_t len, char *why,
                          size_t why_len) {
  return avma_json_flat_parse_ex(o, text, len, false, NULL, why, why_len);
}

bool avma_json_valid(const char *text, size_t len, char *why, size_t why_len) {
  if (why && why_len)
    why[0] = '\0';
  Lex l = {.start = text, .p = text, .end = text + len, .why = why, .why_len = why_len};
  skip_ws(&l);
  if (!skip_value(&l, 0))
    return false;
  skip_ws(&l);
  return l.p == l.end || lex_fail(&l, "trailing bytes");
}

const AvmaJsonMember *avma_json_flat_get(const AvmaJsonFlat *o, const char *name) {
  for (size_t i = 0; i < o->n; i++)
    if (!strcmp(o->m[i].name, name))
      return &o->m[i];
  return NULL;
}

const char *avma_json_flat_str(const AvmaJsonFlat *o, const char *name, const char *dflt) {
  const AvmaJsonMember *m = avma_json_flat_get(o, name);
  return m && m->type == AVMA_JV_STRING ? m->text : dflt;
}
