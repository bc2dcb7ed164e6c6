/* Unit tests that the core's guest.state text (core/gstate.c) and GLib's GKeyFile read each
 * other's files: earlier Linux agents wrote it with GKeyFile, and may read it again after a
 * downgrade. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <glib.h>
#include <string.h>

#include "core/gstate.h"

/* Awkward values: blanks at both ends, every escape, a literal tab, UTF-8, '=' and '#'. */
static const char *const awkward[] = {
    "  two leading",   "\tleading tab",           "trailing  ",
    "line\nbreak\r\n", "back\\slash \\s",         "mid\ttab",
    "h\xc3\xa9te",     "a=b # not a comment [x]", "",
};

static void core_text_loads_in_gkeyfile(void **st) {
  (void)st;
  for (size_t i = 0; i < G_N_ELEMENTS(awkward); i++) {
    AvmaGState s;
    avma_gstate_init(&s);
    g_strlcpy(s.guest_id, "0b7e1e9c-4a3f-4d2e-9f6a-1c2b3d4e5f60", sizeof s.guest_id);
    g_strlcpy(s.last_reason, awkward[i], sizeof s.last_reason);
    g_strlcpy(s.vm_name, awkward[i], sizeof s.vm_name);
    s.licensed = TRUE;
    s.granted_until = 1800000000;
    s.failures = 7;
    char text[AVMA_GSTATE_TEXT_MAX];
    size_t n = avma_gstate_format(&s, text, sizeof text);
    assert_true(n > 0);
    g_autoptr(GKeyFile) kf = g_key_file_new();
    g_autoptr(GError) err = NULL;
    assert_true(g_key_file_load_from_data(kf, text, n, G_KEY_FILE_NONE, &err));
    g_autofree char *reason = g_key_file_get_string(kf, "licence", "last_reason", &err);
    assert_non_null(reason);
    assert_string_equal(reason, awkward[i]);
    g_autofree char *vm = g_key_file_get_string(kf, "host", "vm_name", NULL);
    assert_string_equal(vm, awkward[i]);
    assert_true(g_key_file_get_boolean(kf, "licence", "licensed", NULL));
    assert_int_equal(g_key_file_get_integer(kf, "licence", "failures", NULL), 7);
    g_autofree char *until = g_key_file_get_string(kf, "licence", "granted_until", NULL);
    assert_string_equal(until, "2027-01-15T08:00:00Z");
  }
}

static void gkeyfile_text_loads_in_core(void **st) {
  (void)st;
  for (size_t i = 0; i < G_N_ELEMENTS(awkward); i++) {
    g_autoptr(GKeyFile) kf = g_key_file_new();
    g_key_file_set_string(kf, "guest", "id", "0b7e1e9c-4a3f-4d2e-9f6a-1c2b3d4e5f60");
    g_key_file_set_string(kf, "key", "key", "YDFWN-MJ9JR-3DYRK-FXXRW-78VHK");
    g_key_file_set_boolean(kf, "licence", "licensed", TRUE);
    g_key_file_set_string(kf, "licence", "last_reason", awkward[i]);
    g_key_file_set_integer(kf, "licence", "failures", 3);
    g_key_file_set_string(kf, "host", "name", awkward[i]);
    g_key_file_set_boolean(kf, "kvp", "pending_clear", TRUE);
    gsize len = 0;
    g_autofree char *text = g_key_file_to_data(kf, &len, NULL);
    AvmaGState s;
    avma_gstate_init(&s);
    char why[128];
    assert_true(avma_gstate_parse(&s, text, len, why, sizeof why));
    assert_string_equal(s.last_reason, awkward[i]);
    assert_string_equal(s.host_name, awkward[i]);
    assert_true(s.licensed);
    assert_true(s.key_is_avma);
    assert_true(s.pending_clear);
    assert_int_equal(s.failures, 3);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(core_text_loads_in_gkeyfile),
      cmocka_unit_test(gkeyfile_text_loads_in_core),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
