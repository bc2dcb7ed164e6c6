/* Unit tests for durable file writes: exact modes whatever the umask, no symlink followed (the
 * root-run CLI writes in a directory the daemon's user owns), atomic replacement. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "fsutil.h"

#include <glib/gstdio.h>
#include <sys/stat.h>
#include <unistd.h>

static char *tmpdir(void) {
  char *d = g_dir_make_tmp("test-fsutil-XXXXXX", NULL);
  assert_non_null(d);
  return d;
}

static int mode_of(const char *path) {
  struct stat st;
  assert_int_equal(lstat(path, &st), 0);
  return (int)(st.st_mode & 07777);
}

static void rm_rf(const char *dir) {
  g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", dir);
  assert_int_equal(system(cmd), 0);
}

static void modes_ignore_umask(void **st) {
  (void)st;
  g_autofree char *d = tmpdir();
  mode_t old = umask(077);
  g_autofree char *a = g_build_filename(d, "licence.conf", NULL);
  g_autofree char *r = g_build_filename(d, "vms.json", NULL);
  g_autofree char *l = g_build_filename(d, "events.jsonl", NULL);
  assert_true(avma_write_atomic(a, "x=1\n", -1, 0640, NULL));
  assert_true(avma_write_replace(r, "{}", -1, 0644, NULL));
  assert_true(avma_append_line(l, "{}", 0640, NULL));
  umask(old);
  assert_int_equal(mode_of(a), 0640);
  assert_int_equal(mode_of(r), 0644);
  assert_int_equal(mode_of(l), 0640);
  rm_rf(d);
}

static void append_refuses_symlink(void **st) {
  (void)st;
  g_autofree char *d = tmpdir();
  g_autofree char *target = g_build_filename(d, "victim", NULL);
  g_autofree char *link = g_build_filename(d, "licence-history.jsonl", NULL);
  assert_true(g_file_set_contents(target, "precious\n", -1, NULL));
  assert_int_equal(symlink(target, link), 0);
  g_autoptr(GError) err = NULL;
  assert_false(avma_append_line(link, "{\"planted\":1}", 0640, &err));
  assert_non_null(err);
  g_autofree char *data = NULL;
  assert_true(g_file_get_contents(target, &data, NULL, NULL));
  assert_string_equal(data, "precious\n");
  /* A dangling planted link (the file does not exist yet) is not followed either. */
  g_autofree char *nowhere = g_build_filename(d, "created-by-root", NULL);
  g_autofree char *link2 = g_build_filename(d, "new.jsonl", NULL);
  assert_int_equal(symlink(nowhere, link2), 0);
  assert_false(avma_append_line(link2, "{}", 0640, NULL));
  assert_false(g_file_test(nowhere, G_FILE_TEST_EXISTS));
  rm_rf(d);
}

static void replace_ignores_planted_temp(void **st) {
  (void)st;
  g_autofree char *d = tmpdir();
  g_autofree char *target = g_build_filename(d, "victim", NULL);
  g_autofree char *path = g_build_filename(d, "avma.prom", NULL);
  assert_true(g_file_set_contents(target, "precious\n", -1, NULL));
  /* The temp names used before were path.tmp.PID: plant them all for this pid. */
  g_autofree char *old_tmp = g_strdup_printf("%s.tmp.%d", path, (int)getpid());
  assert_int_equal(symlink(target, old_tmp), 0);
  assert_true(avma_write_replace(path, "metric 1\n", -1, 0644, NULL));
  assert_true(avma_write_atomic(path, "metric 2\n", -1, 0644, NULL));
  g_autofree char *data = NULL;
  assert_true(g_file_get_contents(target, &data, NULL, NULL));
  assert_string_equal(data, "precious\n");
  g_autofree char *now = NULL;
  assert_true(g_file_get_contents(path, &now, NULL, NULL));
  assert_string_equal(now, "metric 2\n");
  /* Replacing a symlink replaces the link itself, never its target. */
  g_autofree char *link = g_build_filename(d, "state", NULL);
  assert_int_equal(symlink(target, link), 0);
  assert_true(avma_write_atomic(link, "new\n", -1, 0600, NULL));
  g_free(data);
  data = NULL;
  assert_true(g_file_get_contents(target, &data, NULL, NULL));
  assert_string_equal(data, "precious\n");
  assert_int_equal(mode_of(link), 0600);
  rm_rf(d);
}

static void append_adds_lines(void **st) {
  (void)st;
  g_autofree char *d = tmpdir();
  g_autofree char *l = g_build_filename(d, "events.jsonl", NULL);
  assert_true(avma_append_line(l, "one", 0640, NULL));
  assert_true(avma_append_line(l, "two", 0600, NULL));
  g_autofree char *data = NULL;
  assert_true(g_file_get_contents(l, &data, NULL, NULL));
  assert_string_equal(data, "one\ntwo\n");
  assert_int_equal(mode_of(l), 0640); /* an existing file keeps its mode */
  /* A directory in the way is a clear error, not a crash. */
  g_autofree char *sub = g_build_filename(d, "dir.jsonl", NULL);
  assert_int_equal(g_mkdir(sub, 0700), 0);
  g_autoptr(GError) err = NULL;
  assert_false(avma_append_line(sub, "x", 0640, &err));
  assert_non_null(err);
  rm_rf(d);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(modes_ignore_umask),
      cmocka_unit_test(append_refuses_symlink),
      cmocka_unit_test(replace_ignores_planted_temp),
      cmocka_unit_test(append_adds_lines),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
