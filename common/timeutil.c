/* timeutil: RFC 3339 UTC timestamps and human durations. */
#include "timeutil.h"

#include <stdio.h>
#include <stdlib.h>

char *avma_time_format(gint64 t) {
  if (t <= 0)
    return g_strdup("");
  g_autoptr(GDateTime) dt = g_date_time_new_from_unix_utc(t);
  if (!dt)
    return g_strdup("");
  return g_date_time_format(dt, "%Y-%m-%dT%H:%M:%SZ");
}

gboolean avma_time_parse(const char *s, gint64 *out) {
  if (!s || !*s)
    return FALSE;
  g_autoptr(GTimeZone) utc = g_time_zone_new_utc();
  g_autoptr(GDateTime) dt = g_date_time_new_from_iso8601(s, utc);
  if (!dt)
    return FALSE;
  *out = g_date_time_to_unix(dt);
  return TRUE;
}

gboolean avma_time_parse_loose(const char *s, gint64 *out) {
  if (!s || !*s)
    return FALSE;
  if (avma_time_parse(s, out))
    return TRUE;
  int y, m, d;
  char tail;
  if (sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &tail) == 3) {
    g_autoptr(GDateTime) dt = g_date_time_new_utc(y, m, d, 0, 0, 0);
    if (!dt)
      return FALSE;
    *out = g_date_time_to_unix(dt);
    return TRUE;
  }
  char *end = NULL;
  gint64 v = g_ascii_strtoll(s, &end, 10);
  if (end && *end == '\0' && v >= 0) {
    *out = v;
    return TRUE;
  }
  return FALSE;
}

char *avma_duration_words(gint64 s) {
  if (s < 0)
    s = 0;
  gint64 d = s / 86400, h = (s % 86400) / 3600, m = (s % 3600) / 60;
  if (d > 0)
    return g_strdup_printf("%" G_GINT64_FORMAT " day%s %" G_GINT64_FORMAT " hour%s", d,
                           d == 1 ? "" : "s", h, h == 1 ? "" : "s");
  if (h > 0)
    return g_strdup_printf("%" G_GINT64_FORMAT " hour%s %" G_GINT64_FORMAT " minute%s", h,
                           h == 1 ? "" : "s", m, m == 1 ? "" : "s");
  if (m > 0)
    return g_strdup_printf("%" G_GINT64_FORMAT " minute%s", m, m == 1 ? "" : "s");
  return g_strdup_printf("%" G_GINT64_FORMAT " second%s", s, s == 1 ? "" : "s");
}

gint64 avma_now(void) {
  const char *fake = g_getenv("AVMA_FAKE_NOW");
  if (fake && *fake)
    return g_ascii_strtoll(fake, NULL, 10);
  return g_get_real_time() / G_USEC_PER_SEC;
}
