/* product-map: registry CurrentVersion values to the declared product (brief section 11). */
#include "product-map.h"

#include <stdio.h>
#include <string.h>

typedef struct {
  const char *build;
  const char *release; /* semi-annual releases keep their own name for logs */
  AvmaVersion version;
} BuildMap;

/* The semi-annual channel shares the keys of the long-term release it follows (brief §3). */
static const BuildMap builds[] = {
    {.build = "9600", .release = "2012R2", .version = AVMA_VERSION_2012R2},
    {.build = "14393", .release = "2016", .version = AVMA_VERSION_2016},
    {.build = "16299", .release = "1709", .version = AVMA_VERSION_2016},
    {.build = "17134", .release = "1803", .version = AVMA_VERSION_2016},
    {.build = "17763", .release = "2019", .version = AVMA_VERSION_2019},
    {.build = "18362", .release = "1903", .version = AVMA_VERSION_2019},
    {.build = "18363", .release = "1909", .version = AVMA_VERSION_2019},
    {.build = "20348", .release = "2022", .version = AVMA_VERSION_2022},
    {.build = "26100", .release = "2025", .version = AVMA_VERSION_2025},
};

typedef struct {
  const char *id;
  AvmaEdition edition;
} EditionMap;

/* EditionID values of Windows Server; the ACor ones are the semi-annual core installs. */
static const EditionMap editions[] = {
    {.id = "ServerDatacenter", .edition = AVMA_EDITION_DATACENTER},
    {.id = "ServerStandard", .edition = AVMA_EDITION_STANDARD},
    {.id = "ServerSolution", .edition = AVMA_EDITION_ESSENTIALS},
    {.id = "ServerTurbine", .edition = AVMA_EDITION_DATACENTER_AZURE},
    {.id = "ServerDatacenterACor", .edition = AVMA_EDITION_DATACENTER},
    {.id = "ServerStandardACor", .edition = AVMA_EDITION_STANDARD},
};

/* Registry strings are exact; only surrounding blanks (a hand-edited image) are forgiven. */
static bool same(const char *value, const char *want) {
  while (*value == ' ' || *value == '\t')
    value++;
  size_t n = strlen(want);
  if (strncmp(value, want, n) != 0)
    return false;
  for (value += n; *value; value++)
    if (*value != ' ' && *value != '\t')
      return false;
  return true;
}

const char *avma_product_release(const char *build) {
  if (!build)
    return NULL;
  for (size_t i = 0; i < sizeof builds / sizeof builds[0]; i++)
    if (same(build, builds[i].build))
      return builds[i].release;
  return NULL;
}

static AvmaVersion version_of(const char *build) {
  for (size_t i = 0; build && i < sizeof builds / sizeof builds[0]; i++)
    if (same(build, builds[i].build))
      return builds[i].version;
  return AVMA_VERSION_UNKNOWN;
}

static AvmaEdition edition_of(const char *id) {
  for (size_t i = 0; id && i < sizeof editions / sizeof editions[0]; i++)
    if (same(id, editions[i].id))
      return editions[i].edition;
  return AVMA_EDITION_UNKNOWN;
}

/* A registry value quoted for a log line: printable ASCII only, at most 40 bytes. */
static void quote(const char *v, char *out, size_t cap) {
  if (!v) {
    snprintf(out, cap, "missing");
    return;
  }
  size_t o = 0;
  if (o + 1 < cap)
    out[o++] = '\'';
  for (size_t i = 0; v[i] && i < 40 && o + 2 < cap; i++)
    out[o++] = (v[i] >= 0x20 && v[i] < 0x7f && v[i] != '\'') ? v[i] : '?';
  if (o + 1 < cap)
    out[o++] = '\'';
  out[o < cap ? o : cap - 1] = '\0';
}

static bool is_server(const char *installation_type) {
  return installation_type &&
         (same(installation_type, "Server") || same(installation_type, "Server Core"));
}

bool avma_product_map(const char *product_name, const char *edition_id, const char *build,
                      const char *installation_type, AvmaProduct *out, char *why, size_t why_len) {
  out->version = AVMA_VERSION_UNKNOWN;
  out->edition = AVMA_EDITION_UNKNOWN;
  AvmaVersion v = version_of(build);
  AvmaEdition e = edition_of(edition_id);
  char qb[48], qe[48], qt[48], qn[48];
  quote(build, qb, sizeof qb);
  quote(edition_id, qe, sizeof qe);
  quote(installation_type, qt, sizeof qt);
  quote(product_name, qn, sizeof qn);
  /* Anything odd means the image cannot vouch for its product: declare nothing rather than a
   * half-known product, and let the installed key decide. */
  if (!is_server(installation_type)) {
    snprintf(why, why_len, "InstallationType %s is not Server or Server Core (ProductName %s)", qt,
             qn);
    return false;
  }
  if (!v) {
    snprintf(why, why_len,
             "CurrentBuildNumber %s is not a Windows Server build AVMA knows "
             "(ProductName %s)",
             qb, qn);
    return false;
  }
  if (!e) {
    snprintf(why, why_len,
             "EditionID %s is not a Windows Server edition with an AVMA key "
             "(ProductName %s)",
             qe, qn);
    return false;
  }
  out->version = v;
  out->edition = e;
  snprintf(why, why_len, "%s %s (release %s: CurrentBuildNumber %s, EditionID %s, ProductName %s)",
           avma_version_display(v), avma_edition_display(e), avma_product_release(build), qb, qe,
           qn);
  return true;
}
