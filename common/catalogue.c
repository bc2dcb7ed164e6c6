/* catalogue: the AVMA keys of brief section 4, versions, editions, key normalisation. */
#include "catalogue.h"

#include <string.h>

static const AvmaCatalogueEntry entries[] = {
    {"YQB4H-NKHHJ-Q6K4R-4VMY6-VCH67", AVMA_VERSION_2025, AVMA_EDITION_DATACENTER},
    {"6NMQ9-T38WF-6MFGM-QYGYM-88J4F", AVMA_VERSION_2025, AVMA_EDITION_DATACENTER_AZURE},
    {"WWVGQ-PNHV9-B89P4-8GGM9-9HPQ4", AVMA_VERSION_2025, AVMA_EDITION_STANDARD},
    {"W3GNR-8DDXR-2TFRP-H8P33-DV9BG", AVMA_VERSION_2022, AVMA_EDITION_DATACENTER},
    {"F7TB6-YKN8Y-FCC6R-KQ484-VMK3J", AVMA_VERSION_2022, AVMA_EDITION_DATACENTER_AZURE},
    {"YDFWN-MJ9JR-3DYRK-FXXRW-78VHK", AVMA_VERSION_2022, AVMA_EDITION_STANDARD},
    {"H3RNG-8C32Q-Q8FRX-6TDXV-WMBMW", AVMA_VERSION_2019, AVMA_EDITION_DATACENTER},
    {"TNK62-RXVTB-4P47B-2D623-4GF74", AVMA_VERSION_2019, AVMA_EDITION_STANDARD},
    {"2CTP7-NHT64-BP62M-FV6GG-HFV28", AVMA_VERSION_2019, AVMA_EDITION_ESSENTIALS},
    {"TMJ3Y-NTRTM-FJYXT-T22BY-CWG3J", AVMA_VERSION_2016, AVMA_EDITION_DATACENTER},
    {"C3RCX-M6NRP-6CXC9-TW2F2-4RHYD", AVMA_VERSION_2016, AVMA_EDITION_STANDARD},
    {"B4YNW-62DX9-W8V6M-82649-MHBKQ", AVMA_VERSION_2016, AVMA_EDITION_ESSENTIALS},
    {"Y4TGP-NPTV9-HTC2H-7MGQ3-DV4TW", AVMA_VERSION_2012R2, AVMA_EDITION_DATACENTER},
    {"DBGBW-NPF86-BJVTX-K3WKJ-MTB6V", AVMA_VERSION_2012R2, AVMA_EDITION_STANDARD},
    {"K2XGM-NMBT3-2R6Q8-WF2FK-P36R2", AVMA_VERSION_2012R2, AVMA_EDITION_ESSENTIALS},
};
#define N_ENTRIES (sizeof entries / sizeof entries[0])

/* Release names and the version whose keys they use (brief section 3). */
static const struct {
  const char *name;
  AvmaVersion version;
} releases[] = {
    {"2012R2", AVMA_VERSION_2012R2}, {"2012 R2", AVMA_VERSION_2012R2}, {"2016", AVMA_VERSION_2016},
    {"2019", AVMA_VERSION_2019},     {"2022", AVMA_VERSION_2022},      {"2025", AVMA_VERSION_2025},
    {"1709", AVMA_VERSION_2016},     {"1803", AVMA_VERSION_2016},      {"1809", AVMA_VERSION_2019},
    {"1903", AVMA_VERSION_2019},     {"1909", AVMA_VERSION_2019},
};

/* Locale-independent helpers: the C library's would follow the process locale. */
static char ascii_upper(char c) {
  return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
}

static bool ascii_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

static bool ascii_ieq(const char *a, const char *b) {
  for (; *a && *b; a++, b++)
    if (ascii_upper(*a) != ascii_upper(*b))
      return false;
  return *a == *b;
}

const char *avma_version_name(AvmaVersion v) {
  switch (v) {
  case AVMA_VERSION_2012R2:
    return "2012R2";
  case AVMA_VERSION_2016:
    return "2016";
  case AVMA_VERSION_2019:
    return "2019";
  case AVMA_VERSION_2022:
    return "2022";
  case AVMA_VERSION_2025:
    return "2025";
  case AVMA_VERSION_UNKNOWN:
    break;
  }
  return "unknown";
}

const char *avma_version_display(AvmaVersion v) {
  switch (v) {
  case AVMA_VERSION_2012R2:
    return "Windows Server 2012 R2";
  case AVMA_VERSION_2016:
    return "Windows Server 2016";
  case AVMA_VERSION_2019:
    return "Windows Server 2019";
  case AVMA_VERSION_2022:
    return "Windows Server 2022";
  case AVMA_VERSION_2025:
    return "Windows Server 2025";
  case AVMA_VERSION_UNKNOWN:
    break;
  }
  return "unknown";
}

bool avma_version_parse(const char *s, AvmaVersion *out) {
  if (!s)
    return false;
  /* The display form ("Windows Server 2019") parses too, so display output round-trips. */
  static const char prefix[] = "Windows Server ";
  size_t plen = sizeof prefix - 1;
  if (strlen(s) > plen) {
    char head[sizeof prefix];
    memcpy(head, s, plen);
    head[plen] = '\0';
    if (ascii_ieq(head, prefix))
      s += plen;
  }
  for (size_t i = 0; i < sizeof releases / sizeof releases[0]; i++) {
    if (ascii_ieq(s, releases[i].name)) {
      if (out)
        *out = releases[i].version;
      return true;
    }
  }
  return false;
}

const char *avma_edition_name(AvmaEdition e) {
  switch (e) {
  case AVMA_EDITION_DATACENTER:
    return "Datacenter";
  case AVMA_EDITION_DATACENTER_AZURE:
    return "DatacenterAzure";
  case AVMA_EDITION_STANDARD:
    return "Standard";
  case AVMA_EDITION_ESSENTIALS:
    return "Essentials";
  case AVMA_EDITION_UNKNOWN:
    break;
  }
  return "unknown";
}

const char *avma_edition_display(AvmaEdition e) {
  if (e == AVMA_EDITION_DATACENTER_AZURE)
    return "Datacenter: Azure Edition";
  return avma_edition_name(e);
}

bool avma_edition_parse(const char *s, AvmaEdition *out) {
  static const struct {
    const char *name;
    AvmaEdition edition;
  } names[] = {
      {"Datacenter", AVMA_EDITION_DATACENTER},
      {"DatacenterAzure", AVMA_EDITION_DATACENTER_AZURE},
      {"Datacenter: Azure Edition", AVMA_EDITION_DATACENTER_AZURE},
      {"Datacenter-Azure", AVMA_EDITION_DATACENTER_AZURE},
      {"Standard", AVMA_EDITION_STANDARD},
      {"Essentials", AVMA_EDITION_ESSENTIALS},
  };
  if (!s)
    return false;
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    if (ascii_ieq(s, names[i].name)) {
      if (out)
        *out = names[i].edition;
      return true;
    }
  }
  return false;
}

bool avma_key_normalise(const char *in, char *out, size_t cap) {
  if (!in || !out || cap == 0)
    return false;
  size_t n = 0;
  for (; *in; in++) {
    if (ascii_space(*in))
      continue;
    if (n + 1 >= cap) {
      out[0] = '\0'; /* never leave a half-normalised key behind */
      return false;
    }
    out[n++] = ascii_upper(*in);
  }
  out[n] = '\0';
  return true;
}

bool avma_key_syntax_valid(const char *key) {
  static const char alphabet[] = "BCDFGHJKMPQRTVWXY2346789";
  if (!key)
    return false;
  size_t ns = 0;
  size_t i = 0;
  for (; key[i] && i < AVMA_PRODUCT_KEY_LEN; i++) {
    char c = key[i];
    if (i % 6 == 5) {
      if (c != '-')
        return false;
    } else if (c == 'N') {
      ns++;
    } else if (!strchr(alphabet, c)) {
      return false; /* strchr would also match the terminator, but c is never NUL here */
    }
  }
  return i == AVMA_PRODUCT_KEY_LEN && key[i] == '\0' && ns == 1;
}

const AvmaCatalogueEntry *avma_catalogue_lookup(const char *key) {
  if (!key)
    return NULL;
  for (size_t i = 0; i < N_ENTRIES; i++)
    if (strcmp(entries[i].key, key) == 0)
      return &entries[i];
  return NULL;
}

const AvmaCatalogueEntry *avma_catalogue_find(AvmaVersion v, AvmaEdition e) {
  for (size_t i = 0; i < N_ENTRIES; i++)
    if (entries[i].version == v && entries[i].edition == e)
      return &entries[i];
  return NULL;
}

const AvmaCatalogueEntry *avma_catalogue_entries(size_t *n) {
  if (n)
    *n = N_ENTRIES;
  return entries;
}

bool avma_matrix_allows(AvmaVersion host, AvmaVersion guest) {
  bool host_known = host > AVMA_VERSION_UNKNOWN && host <= AVMA_VERSION_2025;
  bool guest_known = guest > AVMA_VERSION_UNKNOWN && guest <= AVMA_VERSION_2025;
  return host_known && guest_known && guest <= host;
}

void avma_key_last5(const char *key, char out[6]) {
  out[0] = '\0';
  if (!key)
    return;
  size_t n = strlen(key);
  if (n < 5)
    return;
  memcpy(out, key + n - 5, 5);
  out[5] = '\0';
}
