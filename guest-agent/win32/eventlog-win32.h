/* eventlog-win32: the Windows Application log under our own source "AVMA Guest Agent"
 * (ReportEventW with the message table linked into avma-guestd.exe), plus the test seam: an
 * event_sink file that also receives every reported event as one tab-separated line. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <windows.h>

#define AVMA_EVENT_SOURCE L"AVMA Guest Agent"
#define AVMA_EVENT_ID_AGENT 1u     /* the agent's own notices: "AVMA Guest Agent: %1" */
#define AVMA_EVENT_ID_12309 12309u /* one per activation attempt */

typedef struct {
  HANDLE source; /* RegisterEventSourceW; NULL when unavailable */
  char sink[1024];
} AvmaWinLog;

void avma_winlog_open(AvmaWinLog *l, const char *sink);
void avma_winlog_close(AvmaWinLog *l);
/* type: EVENTLOG_SUCCESS / _INFORMATION_TYPE / _WARNING_TYPE / _ERROR_TYPE. strings UTF-8. */
void avma_winlog_report(AvmaWinLog *l, WORD type, DWORD id, const char *const *strings, size_t n);
/* An agent notice (event 1), also written to stderr. */
void avma_winlog_notice(AvmaWinLog *l, WORD type, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
