/* product-map: the registry's CurrentVersion values (ProductName, EditionID, CurrentBuildNumber,
 * InstallationType) to the product the image declares. Plain C11 with no windows.h, so the
 * Linux unit tests cover every version and edition. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "agent.h"

/* Map the four registry strings (each may be NULL when the value is missing) to *out. Returns
 * true when both version and edition are known. Any missing or unexpected value leaves *out
 * UNKNOWN/UNKNOWN (the installed key then decides, as on Linux without product_version) and why
 * says which value and what it held, safe to log. product_name is only reported, never
 * decisive: Windows keeps older names in it after upgrades. */
bool avma_product_map(const char *product_name, const char *edition_id, const char *build,
                      const char *installation_type, AvmaProduct *out, char *why, size_t why_len);

/* The release a build number names ("2016", "1709", "2019", "1909", ...), NULL when unknown. */
const char *avma_product_release(const char *build);
