/* test-product-map: the Windows agent's registry-to-product mapping, every version and edition,
 * and registry values a broken or hostile image could hold. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "product-map.h"

typedef struct {
  const char *build;
  AvmaVersion version;
  const char *release;
} BuildCase;

static const BuildCase build_cases[] = {
    {"9600", AVMA_VERSION_2012R2, "2012R2"}, {"14393", AVMA_VERSION_2016, "2016"},
    {"16299", AVMA_VERSION_2016, "1709"},    {"17134", AVMA_VERSION_2016, "1803"},
    {"17763", AVMA_VERSION_2019, "2019"},    {"18362", AVMA_VERSION_2019, "1903"},
    {"18363", AVMA_VERSION_2019, "1909"},    {"20348", AVMA_VERSION_2022, "2022"},
    {"26100", AVMA_VERSION_2025, "2025"},
};

typedef struct {
  const char *id;
  AvmaEdition edition;
} EditionCase;

static const EditionCase edition_cases[] = {
    {"ServerDatacenter", AVMA_EDITION_DATACENTER},
    {"ServerStandard", AVMA_EDITION_STANDARD},
    {"ServerSolution", AVMA_EDITION_ESSENTIALS},
    {"ServerTurbine", AVMA_EDITION_DATACENTER_AZURE},
    {"ServerDatacenterACor", AVMA_EDITION_DATACENTER},
    {"ServerStandardACor", AVMA_EDITION_STANDARD},
};

static void every_version_and_edition(void **st) {
  (void)st;
  for (size_t b = 0; b < sizeof build_cases / sizeof build_cases[0]; b++) {
    for (size_t e = 0; e < sizeof edition_cases / sizeof edition_cases[0]; e++) {
      for (int core = 0; core < 2; core++) {
        AvmaProduct p = {AVMA_VERSION_2025, AVMA_EDITION_ESSENTIALS};
        char why[256];
        bool ok = avma_product_map("Windows Server", edition_cases[e].id, build_cases[b].build,
                                   core ? "Server Core" : "Server", &p, why, sizeof why);
        assert_true(ok);
        assert_int_equal(p.version, build_cases[b].version);
        assert_int_equal(p.edition, edition_cases[e].edition);
        assert_non_null(strstr(why, avma_version_display(build_cases[b].version)));
        assert_non_null(strstr(why, avma_edition_display(edition_cases[e].edition)));
      }
    }
    assert_string_equal(avma_product_release(build_cases[b].build), build_cases[b].release);
  }
}

static void real_registry_strings(void **st) {
  (void)st;
  AvmaProduct p;
  char why[256];
  assert_true(avma_product_map("Windows Server 2022 Datacenter", "ServerDatacenter", "20348",
                               "Server", &p, why, sizeof why));
  assert_int_equal(p.version, AVMA_VERSION_2022);
  assert_int_equal(p.edition, AVMA_EDITION_DATACENTER);
  assert_non_null(strstr(why, "20348"));
  /* ProductName is never decisive: upgraded images keep an old one. */
  assert_true(avma_product_map("Windows Server 2016 Standard", "ServerStandard", "17763", "Server",
                               &p, why, sizeof why));
  assert_int_equal(p.version, AVMA_VERSION_2019);
  assert_true(avma_product_map(NULL, "ServerTurbine", "26100", "Server Core", &p, why, sizeof why));
  assert_int_equal(p.edition, AVMA_EDITION_DATACENTER_AZURE);
  /* Blanks around a value (a hand-edited image) are forgiven. */
  assert_true(avma_product_map("x", " ServerStandard ", "9600 ", "Server", &p, why, sizeof why));
  assert_int_equal(p.version, AVMA_VERSION_2012R2);
}

static void unknown(const char *name, const char *ed, const char *build, const char *type,
                    const char *mention) {
  AvmaProduct p = {AVMA_VERSION_2022, AVMA_EDITION_STANDARD};
  char why[256];
  assert_false(avma_product_map(name, ed, build, type, &p, why, sizeof why));
  assert_int_equal(p.version, AVMA_VERSION_UNKNOWN);
  assert_int_equal(p.edition, AVMA_EDITION_UNKNOWN);
  if (!strstr(why, mention))
    fail_msg("'%s' does not mention '%s'", why, mention);
  for (const char *c = why; *c; c++)
    assert_true(*c >= 0x20 && *c < 0x7f); /* safe to log */
}

static void missing_or_odd_values(void **st) {
  (void)st;
  /* Wine's default prefix: a Windows 7 client with no EditionID or InstallationType. */
  unknown("Microsoft Windows 7", NULL, "7601", NULL, "InstallationType missing");
  unknown("Windows 10 Pro", "Professional", "19045", "Client", "'Client'");
  unknown("Windows Server", "ServerDatacenter", NULL, "Server", "CurrentBuildNumber missing");
  unknown("Windows Server", "ServerDatacenter", "", "Server", "CurrentBuildNumber ''");
  unknown("Windows Server", "ServerDatacenter", "20349", "Server", "'20349'");
  unknown("Windows Server", "ServerDatacenter", "020348", "Server", "'020348'");
  unknown("Windows Server", "ServerDatacenter", "20348x", "Server", "'20348x'");
  unknown("Windows Server", NULL, "20348", "Server", "EditionID missing");
  unknown("Windows Server", "ServerDatacenterEval", "20348", "Server", "'ServerDatacenterEval'");
  unknown("Windows Server", "serverdatacenter", "20348", "Server", "'serverdatacenter'");
  unknown("Windows Server", "ServerWeb", "9600", "Server", "'ServerWeb'");
  unknown("Windows Server", "ServerDatacenter", "20348", "Nano Server", "'Nano Server'");
  unknown("Windows Server", "ServerDatacenter", "20348", "", "InstallationType ''");
}

static void hostile_values(void **st) {
  (void)st;
  /* Control characters, quotes and long values are quoted safely and cut. */
  char big[4096];
  memset(big, 'A', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  unknown(big, big, "20348", "Server", "EditionID 'AAAA");
  unknown("x", "Server\nDatacenter", "20348", "Server", "'Server?Datacenter'");
  unknown("x", "ServerDatacenter", "20348\x1b[2J", "Server", "'20348?[2J'");
  unknown("x", "ServerDatacenter", "2'0348", "Server", "'2?0348'");
  unknown("\xff\xfe", "ServerDatacenter", "1", "Server",
          "'?"
          "?'");
  /* A tiny buffer still gets a terminated string. */
  AvmaProduct p;
  char why[8];
  assert_false(avma_product_map(NULL, NULL, NULL, NULL, &p, why, sizeof why));
  assert_true(strlen(why) < sizeof why);
  assert_null(avma_product_release(NULL));
  assert_null(avma_product_release("1234"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(every_version_and_edition),
      cmocka_unit_test(real_registry_strings),
      cmocka_unit_test(missing_or_odd_values),
      cmocka_unit_test(hostile_values),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
