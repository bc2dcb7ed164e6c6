/* rfc3339: UTC timestamps to and from unix seconds, by civil-calendar arithmetic (no libc time
 * zone functions: they differ between platforms). */
#include "rfc3339.h"

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  unsigned yoe = (unsigned)(y - era * 400);
  unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d) {
  z += 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  unsigned doe = (unsigned)(z - era * 146097);
  unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

/* v as n decimal digits at p (v < 10^n). */
static char *put(char *p, unsigned v, int n) {
  for (int i = n - 1; i >= 0; i--, v /= 10)
    p[i] = (char)('0' + v % 10);
  return p + n;
}

void avma_rfc3339_format(int64_t t, char out[AVMA_RFC3339_LEN]) {
  out[0] = '\0';
  if (t <= 0)
    return;
  int64_t days = t / 86400, secs = t % 86400, y;
  unsigned m, d;
  civil_from_days(days, &y, &m, &d);
  if (y > 9999)
    return; /* does not fit the fixed-width form */
  char *p = put(out, (unsigned)y, 4);
  *p++ = '-';
  p = put(p, m, 2);
  *p++ = '-';
  p = put(p, d, 2);
  *p++ = 'T';
  p = put(p, (unsigned)(secs / 3600), 2);
  *p++ = ':';
  p = put(p, (unsigned)(secs / 60 % 60), 2);
  *p++ = ':';
  p = put(p, (unsigned)(secs % 60), 2);
  *p++ = 'Z';
  *p = '\0';
}

/* n decimal digits at s into *v. */
static bool digits(const char *s, int n, unsigned *v) {
  *v = 0;
  for (int i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9')
      return false;
    *v = *v * 10 + (unsigned)(s[i] - '0');
  }
  return true;
}

static bool leap(unsigned y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned month_days(unsigned y, unsigned m) {
  static const unsigned days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && leap(y) ? 29 : days[m - 1];
}

/* "Z", "+HH:MM", "+HHMM" or "+HH" (and '-'), then the end of the string. */
static bool parse_offset(const char *p, int64_t *off) {
  if (*p == 'Z' || *p == 'z') {
    *off = 0;
    return p[1] == '\0';
  }
  if (*p != '+' && *p != '-')
    return false;
  int sign = *p == '-' ? -1 : 1;
  unsigned hh, mm = 0;
  p++;
  if (!digits(p, 2, &hh))
    return false;
  p += 2;
  bool colon = *p == ':';
  if (colon)
    p++;
  if ((*p || colon) && (!digits(p, 2, &mm) || p[2] != '\0'))
    return false;
  if (hh > 23 || mm > 59)
    return false;
  *off = sign * (int64_t)(hh * 3600 + mm * 60);
  return true;
}

bool avma_rfc3339_parse(const char *s, int64_t *out) {
  unsigned y, mo, d, h, mi, se;
  if (!s || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) || s[7] != '-' ||
      !digits(s + 8, 2, &d))
    return false;
  if (s[10] != 'T' && s[10] != 't' && s[10] != ' ')
    return false;
  if (!digits(s + 11, 2, &h) || s[13] != ':' || !digits(s + 14, 2, &mi) || s[16] != ':' ||
      !digits(s + 17, 2, &se))
    return false;
  if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > month_days(y, mo) || h > 23 || mi > 59 || se > 59)
    return false;
  const char *p = s + 19;
  if (*p == '.' || *p == ',') {
    p++;
    if (*p < '0' || *p > '9')
      return false;
    while (*p >= '0' && *p <= '9')
      p++;
  }
  int64_t off;
  if (!parse_offset(p, &off))
    return false;
  *out = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - off;
  return true;
}
