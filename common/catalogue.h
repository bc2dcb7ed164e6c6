/* catalogue: AVMA keys, product versions and editions (brief sections 3-4), key normalisation.
 * Pure C11. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

typedef enum {
  AVMA_VERSION_UNKNOWN = 0,
  AVMA_VERSION_2012R2,
  AVMA_VERSION_2016,
  AVMA_VERSION_2019,
  AVMA_VERSION_2022,
  AVMA_VERSION_2025,
} AvmaVersion; /* ordered: a larger value is a newer version */

typedef enum {
  AVMA_EDITION_UNKNOWN = 0,
  AVMA_EDITION_DATACENTER,
  AVMA_EDITION_DATACENTER_AZURE, /* "Datacenter: Azure Edition" */
  AVMA_EDITION_STANDARD,
  AVMA_EDITION_ESSENTIALS,
} AvmaEdition;

#define AVMA_PRODUCT_KEY_LEN 29 /* XXXXX-XXXXX-XXXXX-XXXXX-XXXXX */

const char *avma_version_name(AvmaVersion v);    /* "2012R2", "2016", ...; "unknown" */
const char *avma_version_display(AvmaVersion v); /* "Windows Server 2012 R2", ... */
/* Accepts "2012R2", "2012 R2", "2012r2", "2016", "2019", "2022", "2025" and the semi-annual
 * releases "1709", "1803" (-> 2016), "1809", "1903", "1909" (-> 2019); case-insensitive, with an
 * optional "Windows Server " prefix so that the display form parses too. */
bool avma_version_parse(const char *s, AvmaVersion *out);
/* "Datacenter", "DatacenterAzure", "Standard", "Essentials"; "unknown" */
const char *avma_edition_name(AvmaEdition e);
/* As avma_edition_name, but "Datacenter: Azure Edition" for the Azure one. */
const char *avma_edition_display(AvmaEdition e);
/* Case-insensitive; accepts the name, the display form, and "Datacenter-Azure". */
bool avma_edition_parse(const char *s, AvmaEdition *out);

/* Normalise a product key: drop all ASCII whitespace, upper-case letters. Writes a NUL-terminated
 * string of at most cap-1 bytes; returns false if it would not fit. Does not check syntax. */
bool avma_key_normalise(const char *in, char *out, size_t cap);
/* Syntax of a NORMALISED key: five groups of five from BCDFGHJKMPQRTVWXY2346789 plus exactly one N,
 * separated by '-'. */
bool avma_key_syntax_valid(const char *key);

typedef struct {
  const char *key; /* normalised */
  AvmaVersion version;
  AvmaEdition edition;
} AvmaCatalogueEntry;

/* Look up a normalised key; NULL if it is not an AVMA key. */
const AvmaCatalogueEntry *avma_catalogue_lookup(const char *key);
/* The AVMA key of (version, edition); NULL when none exists (e.g. 2022 Essentials). */
const AvmaCatalogueEntry *avma_catalogue_find(AvmaVersion v, AvmaEdition e);
/* All entries, for tests and listings. */
const AvmaCatalogueEntry *avma_catalogue_entries(size_t *n);

/* Guest-version matrix (brief section 3): guest version <= host version, both known. */
bool avma_matrix_allows(AvmaVersion host, AvmaVersion guest);

/* Last five characters of a key (for logs), "" for shorter input. out must hold 6 bytes. */
void avma_key_last5(const char *key, char out[6]);
