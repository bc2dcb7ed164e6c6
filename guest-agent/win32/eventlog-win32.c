/* eventlog-win32: ReportEventW under "AVMA Guest Agent", and the event_sink copy for tests. */
#include "eventlog-win32.h"

#include "fileio-win32.h"
#include "winutil.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void avma_winlog_open(AvmaWinLog *l, const char *sink) {
  memset(l, 0, sizeof *l);
  /* Our own source, never Microsoft's: the MSI registers it with our message file. */
  l->source = RegisterEventSourceW(NULL, AVMA_EVENT_SOURCE);
  if (sink)
    snprintf(l->sink, sizeof l->sink, "%s", sink);
}

void avma_winlog_close(AvmaWinLog *l) {
  if (l->source)
    DeregisterEventSource(l->source);
  l->source = NULL;
}

static const char *type_name(WORD type) {
  switch (type) {
  case EVENTLOG_ERROR_TYPE:
    return "error";
  case EVENTLOG_WARNING_TYPE:
    return "warning";
  case EVENTLOG_INFORMATION_TYPE:
    return "information";
  default:
    return "success";
  }
}

/* Tabs and line breaks would split the sink's fields and lines. */
static void sink_field(char *out, size_t cap, size_t *o, const char *s) {
  for (; *s && *o + 1 < cap; s++)
    out[(*o)++] = (*s == '\t' || *s == '\n' || *s == '\r') ? ' ' : *s;
}

void avma_winlog_report(AvmaWinLog *l, WORD type, DWORD id, const char *const *strings, size_t n) {
  wchar_t *w[8] = {0};
  if (n > 8)
    n = 8;
  for (size_t i = 0; i < n; i++) {
    w[i] = avma_wide(strings[i] ? strings[i] : "");
    if (!w[i])
      w[i] = avma_wide("?");
  }
  if (l->source && !ReportEventW(l->source, type, 0, id, NULL, (WORD)n, 0, (LPCWSTR *)w, NULL))
    avma_log("ReportEventW %lu failed (error %lu)", (unsigned long)id,
             (unsigned long)GetLastError());
  for (size_t i = 0; i < n; i++)
    free(w[i]);
  if (!*l->sink)
    return;
  char line[4096];
  size_t o = (size_t)snprintf(line, sizeof line, "%lu\t%s", (unsigned long)id, type_name(type));
  for (size_t i = 0; i < n && o + 2 < sizeof line; i++) {
    line[o++] = '\t';
    sink_field(line, sizeof line - 1, &o, strings[i] ? strings[i] : "");
  }
  line[o++] = '\n';
  char why[256];
  if (!avma_append_file(l->sink, line, o, why, sizeof why))
    avma_log("event sink: %s", why);
}

void avma_winlog_notice(AvmaWinLog *l, WORD type, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  avma_log("%s", msg);
  const char *s[1] = {msg};
  avma_winlog_report(l, type, AVMA_EVENT_ID_AGENT, s, 1);
}
