/* winutil: small Win32 helpers both Windows programs share: UTF-8/UTF-16 conversion, error
 * text, the clock, randomness, whole-file reads and the log to stderr. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <windows.h>

/* malloc'd conversions; NULL on invalid input or out of memory. */
wchar_t *avma_wide(const char *utf8);
char *avma_utf8(const wchar_t *wide);

/* "The system cannot find the file specified. (2)" into buf. */
const char *avma_win_error(DWORD code, char *buf, size_t cap);

int64_t avma_win_now(void); /* unix seconds */
bool avma_win_random(void *buf, size_t len);
uint32_t avma_win_session_id(void); /* fresh, non-zero */

/* Read a whole file (at most max bytes) into a malloc'd NUL-terminated buffer. Returns false
 * with *err (GetLastError) set; ERROR_FILE_NOT_FOUND / ERROR_PATH_NOT_FOUND when absent. */
bool avma_read_file(const char *path, size_t max, char **data, size_t *len, DWORD *err);

/* The program's log: "PROG: message" lines on stderr. */
void avma_log_init(const char *prog);
void avma_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
