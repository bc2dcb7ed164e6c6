/* test-catalogue: the fifteen AVMA keys, normalisation, key syntax, versions and the matrix. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "catalogue.h"

/* Brief section 4, copied literally. */
static const struct {
  const char *key;
  AvmaVersion version;
  AvmaEdition edition;
} brief_keys[] = {
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
#define N_BRIEF (sizeof brief_keys / sizeof brief_keys[0])

static void test_all_fifteen_keys(void **state) {
  (void)state;
  size_t n;
  const AvmaCatalogueEntry *all = avma_catalogue_entries(&n);
  assert_int_equal(n, 15);
  assert_int_equal(N_BRIEF, 15);
  for (size_t i = 0; i < N_BRIEF; i++) {
    /* As typed by someone: lower case, spaces inside groups. */
    char messy[64], norm[AVMA_PRODUCT_KEY_LEN + 1];
    size_t m = 0;
    for (const char *p = brief_keys[i].key; *p; p++) {
      messy[m++] = (*p >= 'A' && *p <= 'Z') ? (char)(*p - 'A' + 'a') : *p;
      if (*p == '-')
        messy[m++] = ' ';
    }
    messy[m] = '\0';
    assert_true(avma_key_normalise(messy, norm, sizeof norm));
    assert_string_equal(norm, brief_keys[i].key);
    assert_true(avma_key_syntax_valid(norm));
    const AvmaCatalogueEntry *e = avma_catalogue_lookup(norm);
    assert_non_null(e);
    assert_int_equal(e->version, brief_keys[i].version);
    assert_int_equal(e->edition, brief_keys[i].edition);
    assert_ptr_equal(avma_catalogue_find(e->version, e->edition), e);
    assert_true(e >= all && e < all + n);
  }
  /* Combinations the brief marks with a dash. */
  assert_null(avma_catalogue_find(AVMA_VERSION_2025, AVMA_EDITION_ESSENTIALS));
  assert_null(avma_catalogue_find(AVMA_VERSION_2022, AVMA_EDITION_ESSENTIALS));
  assert_null(avma_catalogue_find(AVMA_VERSION_2019, AVMA_EDITION_DATACENTER_AZURE));
  assert_null(avma_catalogue_find(AVMA_VERSION_2012R2, AVMA_EDITION_DATACENTER_AZURE));
  assert_null(avma_catalogue_find(AVMA_VERSION_UNKNOWN, AVMA_EDITION_DATACENTER));
  assert_null(
      avma_catalogue_lookup("tnk62-rxvtb-4p47b-2d623-4gf74")); /* lookup wants it normalised */
  assert_null(avma_catalogue_lookup(NULL));
}

static void test_normalise(void **state) {
  (void)state;
  char out[AVMA_PRODUCT_KEY_LEN + 1];
  assert_true(avma_key_normalise("tnk62-rxvtb-4p47b - 2d623-4gf74", out, sizeof out));
  assert_string_equal(out, "TNK62-RXVTB-4P47B-2D623-4GF74");
  const AvmaCatalogueEntry *e = avma_catalogue_lookup(out);
  assert_non_null(e);
  assert_int_equal(e->version, AVMA_VERSION_2019);
  assert_int_equal(e->edition, AVMA_EDITION_STANDARD);
  /* The seeds' mangled group. */
  assert_true(avma_key_normalise("TNK62-RXVTB-4P47B - 2D 623-4GF74\r\n", out, sizeof out));
  assert_string_equal(out, "TNK62-RXVTB-4P47B-2D623-4GF74");
  assert_true(avma_key_normalise(" \t\v\f\r\nab c", out, sizeof out));
  assert_string_equal(out, "ABC");
  assert_true(avma_key_normalise("   ", out, sizeof out));
  assert_string_equal(out, "");
  /* Non-ASCII bytes are kept as they are (and then fail the syntax). */
  assert_true(avma_key_normalise("\xC3\xA9", out, sizeof out));
  assert_string_equal(out, "\xC3\xA9");
  /* Capacity: exactly fitting, one short. */
  char small[4];
  assert_true(avma_key_normalise("a b c", small, 4));
  assert_string_equal(small, "ABC");
  assert_false(avma_key_normalise("abcd", small, 4));
  assert_string_equal(small, "");
  assert_false(avma_key_normalise(NULL, out, sizeof out));
  assert_false(avma_key_normalise("x", out, 0));
}

static void test_syntax(void **state) {
  (void)state;
  const char *good = "TNK62-RXVTB-4P47B-2D623-4GF74";
  assert_true(avma_key_syntax_valid(good));
  /* Wrong length and group sizes. */
  const char *bad[] = {
      "",
      "TNK62-RXVTB-4P47B-2D623-4GF7",
      "TNK62-RXVTB-4P47B-2D623-4GF744",
      "TNK62-RXVTB-4P47B-2D623-4GF74-",
      "TNK6-2RXVTB-4P47B-2D623-4GF74",
      "TNK62RXVTB-4P47B-2D623-4GF74-",
      "TNK62-RXVTB4-P47B-2D623-4GF74",
      "TNK62RXVTB4P47B2D6234GF74",
      "TNK62_RXVTB_4P47B_2D623_4GF74",
      "TNK62-RXVTB-4P47B-2D623 4GF74",
      "tnk62-rxvtb-4p47b-2d623-4gf74", /* not normalised */
      "TNK62-RXVTB-4P47B-2D623-4GF74\n",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    if (avma_key_syntax_valid(bad[i]))
      fail_msg("accepted \"%s\"", bad[i]);
  assert_false(avma_key_syntax_valid(NULL));
  /* Letters and digits outside the product-key alphabet, at a position that is not the N. */
  const char *forbidden = "AEIOULSZ015";
  for (const char *c = forbidden; *c; c++) {
    char k[AVMA_PRODUCT_KEY_LEN + 1];
    memcpy(k, good, sizeof k);
    k[0] = *c;
    if (avma_key_syntax_valid(k))
      fail_msg("accepted '%c'", *c);
    memcpy(k, good, sizeof k);
    k[28] = *c;
    assert_false(avma_key_syntax_valid(k));
  }
  /* Every allowed character is allowed at every position. */
  const char *alphabet = "BCDFGHJKMPQRTVWXY2346789";
  for (const char *c = alphabet; *c; c++) {
    char k[AVMA_PRODUCT_KEY_LEN + 1];
    memcpy(k, good, sizeof k);
    k[3] = *c;
    k[28] = *c;
    assert_true(avma_key_syntax_valid(k));
  }
  /* Exactly one N: none, two. */
  assert_false(avma_key_syntax_valid("TBK62-RXVTB-4P47B-2D623-4GF74"));
  assert_false(avma_key_syntax_valid("TNK62-RXVTB-4P47B-2D623-4GFN4"));
  assert_false(avma_key_syntax_valid("NNNNN-NNNNN-NNNNN-NNNNN-NNNNN"));
  assert_true(avma_key_syntax_valid("BBBBB-BBBBB-BBBBB-BBBBB-BBBBN"));
  /* Exact-size buffer without slack. */
  char *exact = malloc(AVMA_PRODUCT_KEY_LEN + 1);
  memcpy(exact, good, AVMA_PRODUCT_KEY_LEN + 1);
  assert_true(avma_key_syntax_valid(exact));
  free(exact);
}

static void test_versions(void **state) {
  (void)state;
  static const struct {
    const char *s;
    AvmaVersion v;
  } good[] = {
      {"2012R2", AVMA_VERSION_2012R2},
      {"2012 R2", AVMA_VERSION_2012R2},
      {"2012r2", AVMA_VERSION_2012R2},
      {"2016", AVMA_VERSION_2016},
      {"2019", AVMA_VERSION_2019},
      {"2022", AVMA_VERSION_2022},
      {"2025", AVMA_VERSION_2025},
      {"1709", AVMA_VERSION_2016},
      {"1803", AVMA_VERSION_2016},
      {"1809", AVMA_VERSION_2019},
      {"1903", AVMA_VERSION_2019},
      {"1909", AVMA_VERSION_2019},
      {"Windows Server 2012 R2", AVMA_VERSION_2012R2},
      {"windows server 2022", AVMA_VERSION_2022},
  };
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
    AvmaVersion v = AVMA_VERSION_UNKNOWN;
    if (!avma_version_parse(good[i].s, &v) || v != good[i].v)
      fail_msg("\"%s\"", good[i].s);
  }
  const char *bad[] = {"",        "2012", "2020", "2019 ",          " 2019",           "19",
                       "20199",   "2004", "1607", "Windows Server", "Windows Server ", "unknown",
                       "2012  R2"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    AvmaVersion v = AVMA_VERSION_2025;
    if (avma_version_parse(bad[i], &v))
      fail_msg("accepted \"%s\"", bad[i]);
  }
  assert_false(avma_version_parse(NULL, NULL));
  /* Names and display forms parse back. */
  for (AvmaVersion v = AVMA_VERSION_2012R2; v <= AVMA_VERSION_2025; v++) {
    AvmaVersion back;
    assert_true(avma_version_parse(avma_version_name(v), &back));
    assert_int_equal(back, v);
    assert_true(avma_version_parse(avma_version_display(v), &back));
    assert_int_equal(back, v);
  }
  assert_string_equal(avma_version_name(AVMA_VERSION_2012R2), "2012R2");
  assert_string_equal(avma_version_display(AVMA_VERSION_2012R2), "Windows Server 2012 R2");
  assert_string_equal(avma_version_display(AVMA_VERSION_2025), "Windows Server 2025");
  assert_string_equal(avma_version_name(AVMA_VERSION_UNKNOWN), "unknown");
}

static void test_editions(void **state) {
  (void)state;
  static const struct {
    const char *s;
    AvmaEdition e;
  } good[] = {
      {"Datacenter", AVMA_EDITION_DATACENTER},
      {"DATACENTER", AVMA_EDITION_DATACENTER},
      {"DatacenterAzure", AVMA_EDITION_DATACENTER_AZURE},
      {"Datacenter: Azure Edition", AVMA_EDITION_DATACENTER_AZURE},
      {"datacenter-azure", AVMA_EDITION_DATACENTER_AZURE},
      {"Standard", AVMA_EDITION_STANDARD},
      {"essentials", AVMA_EDITION_ESSENTIALS},
  };
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
    AvmaEdition e = AVMA_EDITION_UNKNOWN;
    if (!avma_edition_parse(good[i].s, &e) || e != good[i].e)
      fail_msg("\"%s\"", good[i].s);
  }
  const char *bad[] = {"", "Data center", "Enterprise", "Standard ", "unknown", "Azure"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    assert_false(avma_edition_parse(bad[i], NULL));
  assert_false(avma_edition_parse(NULL, NULL));
  for (AvmaEdition e = AVMA_EDITION_DATACENTER; e <= AVMA_EDITION_ESSENTIALS; e++) {
    AvmaEdition back;
    assert_true(avma_edition_parse(avma_edition_name(e), &back));
    assert_int_equal(back, e);
    assert_true(avma_edition_parse(avma_edition_display(e), &back));
    assert_int_equal(back, e);
  }
  assert_string_equal(avma_edition_name(AVMA_EDITION_DATACENTER_AZURE), "DatacenterAzure");
  assert_string_equal(avma_edition_display(AVMA_EDITION_DATACENTER_AZURE),
                      "Datacenter: Azure Edition");
}

static void test_matrix(void **state) {
  (void)state;
  /* Brief section 3, row by row: host 2025, 2022, 2019, 2016, 2012 R2; columns the same order. */
  static const AvmaVersion order[] = {AVMA_VERSION_2025, AVMA_VERSION_2022, AVMA_VERSION_2019,
                                      AVMA_VERSION_2016, AVMA_VERSION_2012R2};
  static const char *rows[] = {"XXXXX", " XXXX", "  XXX", "   XX", "    X"};
  for (int h = 0; h < 5; h++)
    for (int g = 0; g < 5; g++)
      assert_int_equal(avma_matrix_allows(order[h], order[g]), rows[h][g] == 'X');
  for (int v = 0; v < 5; v++) {
    assert_false(avma_matrix_allows(AVMA_VERSION_UNKNOWN, order[v]));
    assert_false(avma_matrix_allows(order[v], AVMA_VERSION_UNKNOWN));
  }
}

static void test_last5(void **state) {
  (void)state;
  char out[6];
  avma_key_last5("TNK62-RXVTB-4P47B-2D623-4GF74", out);
  assert_string_equal(out, "4GF74");
  avma_key_last5("ABCDE", out);
  assert_string_equal(out, "ABCDE");
  avma_key_last5("ABCD", out);
  assert_string_equal(out, "");
  avma_key_last5(NULL, out);
  assert_string_equal(out, "");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_all_fifteen_keys),
      cmocka_unit_test(test_normalise),
      cmocka_unit_test(test_syntax),
      cmocka_unit_test(test_versions),
      cmocka_unit_test(test_editions),
      cmocka_unit_test(test_matrix),
      cmocka_unit_test(test_last5),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
