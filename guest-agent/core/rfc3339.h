/* rfc3339: UTC timestamps ("2026-11-24T20:48:00Z") for the portable guest core. Plain C11. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AVMA_RFC3339_LEN 21 /* "YYYY-MM-DDTHH:MM:SSZ" plus NUL */

/* Unix seconds to "YYYY-MM-DDTHH:MM:SSZ"; "" for t <= 0. out holds AVMA_RFC3339_LEN bytes. */
void avma_rfc3339_format(int64_t t, char out[AVMA_RFC3339_LEN]);
/* Parse RFC 3339 with 'Z' or a numeric offset and optional fraction (dropped); false on error. */
bool avma_rfc3339_parse(const char *s, int64_t *out);
