/* timeutil: RFC 3339 UTC timestamps and human durations, shared by both agents. */
#pragma once
#include <glib.h>

/* "2026-11-24T20:48:00Z" for unix seconds; "" for 0. Caller frees. */
char *avma_time_format(gint64 unix_seconds);
/* Parse RFC 3339 (any offset) to unix seconds; FALSE on error. */
gboolean avma_time_parse(const char *s, gint64 *out);
/* Parse an operator's time: RFC 3339, "YYYY-MM-DD" (UTC midnight), or unix seconds. */
gboolean avma_time_parse_loose(const char *s, gint64 *out);
/* "6 days 23 hours", "42 minutes", "15 seconds". Caller frees. */
char *avma_duration_words(gint64 seconds);
/* Wall clock in unix seconds; AVMA_FAKE_NOW (unix seconds) overrides it for tests. */
gint64 avma_now(void);
