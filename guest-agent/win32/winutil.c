/* winutil: UTF-8/UTF-16, error text, clock, randomness, file reads, the stderr log. */
#include "winutil.h"

#include <bcrypt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static const char *log_prog = "avma";

wchar_t *avma_wide(const char *utf8) {
  int n = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, utf8, -1, NULL, 0);
  if (n <= 0)
    return NULL;
  wchar_t *w = malloc((size_t)n * sizeof *w);
  if (w && MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, utf8, -1, w, n) != n) {
    free(w);
    return NULL;
  }
  return w;
}

char *avma_utf8(const wchar_t *wide) {
  int n = WideCharToMultiByte(CP_UTF8, 0, wide, -1, NULL, 0, NULL, NULL);
  if (n <= 0)
    return NULL;
  char *s = malloc((size_t)n);
  if (s && WideCharToMultiByte(CP_UTF8, 0, wide, -1, s, n, NULL, NULL) != n) {
    free(s);
    return NULL;
  }
  return s;
}

const char *avma_win_error(DWORD code, char *buf, size_t cap) {
  wchar_t w[256];
  DWORD n = FormatMessageW(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, NULL, code,
                           MAKELANGID(LANG_ENGLISH, SUBLANG_ENGLISH_US), w, 256, NULL);
  while (n > 0 && (w[n - 1] == L'\r' || w[n - 1] == L'\n' || w[n - 1] == L' ' || w[n - 1] == L'.'))
    w[--n] = 0;
  char *u = n ? avma_utf8(w) : NULL;
  snprintf(buf, cap, "%s (error %lu)", u ? u : "system error", (unsigned long)code);
  free(u);
  return buf;
}

int64_t avma_win_now(void) {
  FILETIME ft;
  GetSystemTimeAsFileTime(&ft);
  uint64_t t = ((uint64_t)ft.dwHighDateTime << 32) | ft.dwLowDateTime;
  return (int64_t)(t / 10000000ULL) - 11644473600LL; /* 100 ns since 1601 to unix seconds */
}

bool avma_win_random(void *buf, size_t len) {
  return BCryptGenRandom(NULL, buf, (ULONG)len, BCRYPT_USE_SYSTEM_PREFERRED_RNG) == 0;
}

uint32_t avma_win_session_id(void) {
  uint32_t s = 0;
  while (s == 0) {
    if (!avma_win_random(&s, sizeof s))
      s = (uint32_t)GetTickCount() ^ (uint32_t)GetCurrentProcessId() << 16; /* never 0 below */
    if (s == 0)
      s = 1;
  }
  return s;
}

bool avma_read_file(const char *path, size_t max, char **data, size_t *len, DWORD *err) {
  *data = NULL;
  *len = 0;
  wchar_t *w = avma_wide(path);
  if (!w) {
    *err = ERROR_INVALID_NAME;
    return false;
  }
  HANDLE h = CreateFileW(w, GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                         NULL, OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, NULL);
  free(w);
  if (h == INVALID_HANDLE_VALUE) {
    *err = GetLastError();
    return false;
  }
  LARGE_INTEGER size;
  if (!GetFileSizeEx(h, &size) || (uint64_t)size.QuadPart > max) {
    *err = GetLastError() ? GetLastError() : ERROR_FILE_TOO_LARGE;
    if ((uint64_t)size.QuadPart > max)
      *err = ERROR_FILE_TOO_LARGE;
    CloseHandle(h);
    return false;
  }
  char *buf = malloc((size_t)size.QuadPart + 1);
  DWORD got = 0;
  size_t have = 0;
  bool ok = buf != NULL;
  while (ok && have < (size_t)size.QuadPart) {
    if (!ReadFile(h, buf + have, (DWORD)((size_t)size.QuadPart - have), &got, NULL)) {
      *err = GetLastError();
      ok = false;
    } else if (got == 0) {
      break; /* shrank while we read */
    }
    have += got;
  }
  CloseHandle(h);
  if (!ok) {
    free(buf);
    if (!buf)
      *err = ERROR_NOT_ENOUGH_MEMORY;
    return false;
  }
  buf[have] = '\0';
  *data = buf;
  *len = have;
  return true;
}

void avma_log_init(const char *prog) {
  log_prog = prog;
}

void avma_log(const char *fmt, ...) {
  char line[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  fprintf(stderr, "%s: %s\n", log_prog, line);
  fflush(stderr);
}
