/* config: guest.conf parsing for the Windows agent (same keys and messages as Linux). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void avma_win_config_defaults(AvmaWinConfig *c) {
  memset(c, 0, sizeof *c);
  snprintf(c->port, sizeof c->port, "%s", AVMA_WIN_DEFAULT_PORT);
  snprintf(c->pipe, sizeof c->pipe, "%s", AVMA_WIN_DEFAULT_PIPE);
  avma_timing_defaults(&c->timing);
}

static void trim(const char **s, const char **e) {
  while (*s < *e && (**s == ' ' || **s == '\t'))
    (*s)++;
  while (*e > *s && ((*e)[-1] == ' ' || (*e)[-1] == '\t' || (*e)[-1] == '\r'))
    (*e)--;
}

static bool set_str(char *dst, size_t cap, const char *v, const char *name, const char *key,
                    char *why, size_t why_len) {
  if (strlen(v) >= cap) {
    snprintf(why, why_len, "%s: [guest] %s is too long", name, key);
    return false;
  }
  snprintf(dst, cap, "%s", v);
  return true;
}

static bool set_secs(int64_t *dst, const char *v, const char *name, const char *key, char *why,
                     size_t why_len) {
  char *end = NULL;
  errno = 0;
  long long n = strtoll(v, &end, 10);
  if (errno || end == v || *end || n < 1 || n > 10LL * 365 * 86400) {
    snprintf(why, why_len, "%s: [timing] %s must be a number of seconds, at least 1", name, key);
    return false;
  }
  *dst = n;
  return true;
}

static bool apply(AvmaWinConfig *c, const char *group, const char *key, const char *v,
                  const char *name, char *why, size_t why_len) {
  AvmaTiming *t = &c->timing;
  if (!strcmp(group, "timing")) {
    int64_t *dst = !strcmp(key, "request_timeout")     ? &t->request_timeout
                   : !strcmp(key, "renew_interval")    ? &t->renew_interval
                   : !strcmp(key, "retry_initial")     ? &t->retry_initial
                   : !strcmp(key, "retry_max")         ? &t->retry_max
                   : !strcmp(key, "presence_interval") ? &t->presence_interval
                                                       : NULL;
    return !dst || set_secs(dst, v, name, key, why, why_len);
  }
  if (strcmp(group, "guest"))
    return true; /* other groups belong to other tools */
  if (!strcmp(key, "port"))
    return set_str(c->port, sizeof c->port, v, name, key, why, why_len);
  if (!strcmp(key, "state_dir"))
    return set_str(c->state_dir, sizeof c->state_dir, v, name, key, why, why_len);
  if (!strcmp(key, "event_sink"))
    return set_str(c->event_sink, sizeof c->event_sink, v, name, key, why, why_len);
  if (!strcmp(key, "pipe"))
    return set_str(c->pipe, sizeof c->pipe, v, name, key, why, why_len);
  if (!strcmp(key, "product_version") && *v && !avma_version_parse(v, &c->product.version)) {
    snprintf(why, why_len,
             "%s: [guest] product_version '%.64s' is not 2012R2, 2016, 2019, 2022 "
             "or 2025",
             name, v);
    return false;
  }
  if (!strcmp(key, "product_edition") && *v && !avma_edition_parse(v, &c->product.edition)) {
    snprintf(why, why_len,
             "%s: [guest] product_edition '%.64s' is not Datacenter, "
             "DatacenterAzure, Standard or Essentials",
             name, v);
    return false;
  }
  return true; /* unknown keys (journal=...) are Linux's */
}

bool avma_win_config_parse(AvmaWinConfig *c, const char *name, const char *text, size_t len,
                           char *why, size_t why_len) {
  char group[64] = "";
  const char *p = text, *end = text + len;
  if (len >= 3 && !memcmp(p, "\xEF\xBB\xBF", 3))
    p += 3; /* Notepad's UTF-8 BOM */
  for (unsigned line = 1; p < end; line++) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    const char *s = p, *e = nl ? nl : end;
    p = nl ? nl + 1 : end;
    trim(&s, &e);
    if (s == e || *s == '#' || *s == ';')
      continue;
    if (*s == '[') {
      if (e[-1] != ']' || (size_t)(e - s - 2) >= sizeof group) {
        snprintf(why, why_len, "%s:%u: bad group line", name, line);
        return false;
      }
      memcpy(group, s + 1, (size_t)(e - s - 2));
      group[e - s - 2] = '\0';
      continue;
    }
    const char *eq = memchr(s, '=', (size_t)(e - s));
    if (!eq) {
      snprintf(why, why_len, "%s:%u: expected key=value", name, line);
      return false;
    }
    const char *ks = s, *ke = eq, *vs = eq + 1, *ve = e;
    trim(&ks, &ke);
    trim(&vs, &ve);
    char key[64], val[AVMA_WIN_PATH_MAX + 1];
    if ((size_t)(ke - ks) >= sizeof key || (size_t)(ve - vs) >= sizeof val) {
      snprintf(why, why_len, "%s:%u: line too long", name, line);
      return false;
    }
    memcpy(key, ks, (size_t)(ke - ks));
    key[ke - ks] = '\0';
    memcpy(val, vs, (size_t)(ve - vs));
    val[ve - vs] = '\0';
    if (!apply(c, group, key, val, name, why, why_len))
      return false;
  }
  if (c->timing.retry_max < c->timing.retry_initial)
    c->timing.retry_max = c->timing.retry_initial;
  return true;
}
