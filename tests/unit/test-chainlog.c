/* Unit tests of the hash-chained record log (host-agent/chainlog.c) and its verifier
 * (chainverify.c): the chain continues across opens, a cut last line is set aside, group commit
 * shares one fdatasync, and each kind of tampering is named with its record (issue #18). */
#include <glib/gstdio.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "chainlog.h"
#include "chainverify.h"

typedef struct {
  char *dir;
  char *path;
} Fx;

static int setup(void **state) {
  Fx *fx = g_new0(Fx, 1);
  fx->dir = g_dir_make_tmp("avma-chain-XXXXXX", NULL);
  fx->path = g_build_filename(fx->dir, "events.jsonl", NULL);
  *state = fx;
  return 0;
}

static int teardown(void **state) {
  Fx *fx = *state;
  g_autoptr(GDir) d = g_dir_open(fx->dir, 0, NULL);
  const char *n;
  while (d && (n = g_dir_read_name(d))) {
    g_autofree char *p = g_build_filename(fx->dir, n, NULL);
    g_unlink(p);
  }
  g_rmdir(fx->dir);
  g_free(fx->dir);
  g_free(fx->path);
  g_free(fx);
  return 0;
}

static void write_records(const char *path, int n) {
  g_autoptr(AvmaChainLog) log = avma_chain_log_open(path, NULL, NULL);
  assert_non_null(log);
  for (int i = 0; i < n; i++) {
    g_autofree char *rec = g_strdup_printf("{\"time\":\"t\",\"n\":%d}", i);
    assert_true(avma_chain_log_append(log, rec, NULL, NULL));
  }
  assert_true(avma_chain_log_sync(log, NULL));
}

static char **read_lines(const char *path) {
  g_autofree char *data = NULL;
  assert_true(g_file_get_contents(path, &data, NULL, NULL));
  g_strchomp(data);
  return g_strsplit(data, "\n", -1);
}

static void write_lines(const char *path, char **lines) {
  g_autofree char *joined = g_strjoinv("\n", lines);
  g_autofree char *data = g_strconcat(joined, "\n", NULL);
  assert_true(g_file_set_contents(path, data, -1, NULL));
}

static AvmaChainFinding verify(const char *path, guint64 *record) {
  g_auto(AvmaChainReport) r;
  assert_true(avma_chain_verify_log(path, &r, NULL));
  *record = r.record;
  return r.finding;
}

static void test_chain_continues(void **state) {
  Fx *fx = *state;
  write_records(fx->path, 3);
  write_records(fx->path, 2); /* a restart: the chain goes on from the tail */
  g_auto(GStrv) lines = read_lines(fx->path);
  assert_int_equal(g_strv_length(lines), 5);
  assert_non_null(strstr(lines[4], ",\"seq\":5,\"prev\":\""));
  char h[AVMA_CHAIN_HASH_HEX];
  avma_chain_hash_hex(lines[3], strlen(lines[3]), h);
  assert_non_null(strstr(lines[4], h));
  g_auto(AvmaChainReport) r;
  assert_true(avma_chain_verify_log(fx->path, &r, NULL));
  assert_int_equal(r.finding, AVMA_CHAIN_INTACT);
  assert_int_equal(r.records, 5);
  assert_int_equal(r.head_seq, 5);
  assert_true(avma_chain_report_has(&r, 2, lines[1]));
  assert_false(avma_chain_report_has(&r, 2, lines[2]));
}

static void test_legacy_lines_then_chain(void **state) {
  Fx *fx = *state;
  assert_true(g_file_set_contents(fx->path, "{\"time\":\"a\"}\n{\"time\":\"b\"}\n", -1, NULL));
  write_records(fx->path, 2);
  g_auto(AvmaChainReport) r;
  assert_true(avma_chain_verify_log(fx->path, &r, NULL));
  assert_int_equal(r.finding, AVMA_CHAIN_INTACT);
  assert_int_equal(r.legacy, 2);
  assert_int_equal(r.records, 2);
  /* The first chained record links to the last line before it: editing that one shows. */
  g_auto(GStrv) lines = read_lines(fx->path);
  g_free(lines[1]);
  lines[1] = g_strdup("{\"time\":\"B\"}");
  write_lines(fx->path, lines);
  guint64 rec;
  assert_int_equal(verify(fx->path, &rec), AVMA_CHAIN_EDITED);
}

static void test_cut_tail_set_aside(void **state) {
  Fx *fx = *state;
  write_records(fx->path, 3);
  FILE *f = fopen(fx->path, "a");
  fputs("{\"time\":\"cut", f);
  fclose(f);
  guint64 rec;
  assert_int_equal(verify(fx->path, &rec), AVMA_CHAIN_INTACT); /* a crash, not tampering */
  g_autofree char *side = NULL;
  g_autoptr(AvmaChainLog) log = avma_chain_log_open(fx->path, &side, NULL);
  assert_non_null(log);
  assert_non_null(side);
  assert_non_null(strstr(side, "events.jsonl.cut-4-"));
  g_autofree char *kept = NULL;
  assert_true(g_file_get_contents(side, &kept, NULL, NULL));
  assert_string_equal(kept, "{\"time\":\"cut");
  assert_int_equal(avma_chain_log_head_seq(log), 3);
  guint64 seq = 0;
  assert_true(avma_chain_log_append(log, "{\"time\":\"next\"}", &seq, NULL));
  assert_int_equal(seq, 4);
  assert_true(avma_chain_log_sync(log, NULL));
  assert_int_equal(verify(fx->path, &rec), AVMA_CHAIN_INTACT);
}

static void count_durable(const GError *error, gpointer user) {
  assert_null(error);
  (*(int *)user)++;
}

static void test_group_commit(void **state) {
  Fx *fx = *state;
  g_autoptr(AvmaChainLog) log = avma_chain_log_open(fx->path, NULL, NULL);
  int told = 0;
  for (int i = 0; i < 10; i++) {
    assert_true(avma_chain_log_append(log, "{\"time\":\"x\"}", NULL, NULL));
    avma_chain_log_when_durable(log, count_durable, &told);
  }
  assert_int_equal(told, 0); /* nobody is told before the commit */
  assert_int_equal(avma_chain_log_durable_size(log), 0);
  while (g_main_context_iteration(NULL, FALSE))
    ;
  assert_int_equal(told, 10);
  assert_int_equal(avma_chain_log_syncs(log), 1); /* ten decisions, one fdatasync */
  struct stat st;
  assert_int_equal(stat(fx->path, &st), 0);
  assert_int_equal(avma_chain_log_durable_size(log), st.st_size);
}

/* The same through the writer thread: nobody is told before the disk has it, everybody after. */
static void test_group_commit_thread(void **state) {
  Fx *fx = *state;
  g_autoptr(AvmaChainLog) log = avma_chain_log_open(fx->path, NULL, NULL);
  avma_chain_log_use_thread(log);
  int told = 0;
  for (int round = 0; round < 3; round++) {
    for (int i = 0; i < 5; i++) {
      assert_true(avma_chain_log_append(log, "{\"time\":\"x\"}", NULL, NULL));
      avma_chain_log_when_durable(log, count_durable, &told);
    }
    gint64 end = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
    while (told < 5 * (round + 1) && g_get_monotonic_time() < end)
      g_main_context_iteration(NULL, TRUE);
    assert_int_equal(told, 5 * (round + 1));
  }
  assert_true(avma_chain_log_syncs(log) <= 3 + 1);
  struct stat st;
  assert_int_equal(stat(fx->path, &st), 0);
  assert_int_equal(avma_chain_log_durable_size(log), st.st_size);
  /* A direct sync while the thread runs: waits for it, then nothing is pending. */
  assert_true(avma_chain_log_append(log, "{\"time\":\"y\"}", NULL, NULL));
  avma_chain_log_when_durable(log, count_durable, &told);
  assert_true(avma_chain_log_sync(log, NULL));
  assert_int_equal(told, 16);
}

static void test_tampering(void **state) {
  Fx *fx = *state;
  guint64 rec;
  /* edited: a field of record 3 */
  write_records(fx->path, 6);
  g_auto(GStrv) l = read_lines(fx->path);
  char *p = strstr(l[2], "\"n\":2");
  p[4] = '9';
  write_lines(fx->path, l);
  assert_int_equal(verify(fx->path, &rec), AVMA_CHAIN_EDITED);
  assert_int_equal(rec, 3);
  g_unlink(fx->path);
  /* deleted: record 4 */
  write_records(fx->path, 6);
  g_auto(GStrv) d = read_lines(fx->path);
  g_free(d[3]);
  memmove(&d[3], &d[4], 3 * sizeof(char *));
  write_lines(fx->path, d);
  assert_int_equal(verify(fx->path, &rec), AVMA_CHAIN_DELETED);
  assert_int_equal(rec, 4);
  g_unlink(fx->path);
  /* reordered: records 2 and 3 swapped */
  write_records(fx->path, 6);
  g_auto(GStrv) s = read_lines(fx->path);
  char *t = s[1];
  s[1] = s[2];
  s[2] = t;
  write_lines(fx->path, s);
  assert_int_equal(verify(fx->path, &rec), AVMA_CHAIN_REORDERED);
  assert_int_equal(rec, 2);
  g_unlink(fx->path);
  /* duplicated: record 2 replayed at the end */
  write_records(fx->path, 3);
  g_auto(GStrv) u = read_lines(fx->path);
  g_autofree char *dup = g_strdup_printf("%s\n", u[1]);
  FILE *f = fopen(fx->path, "a");
  fputs(dup, f);
  fclose(f);
  assert_int_equal(verify(fx->path, &rec), AVMA_CHAIN_DUPLICATED);
  assert_int_equal(rec, 2);
  g_unlink(fx->path);
  /* inserted: an unchained line in the middle */
  write_records(fx->path, 3);
  f = fopen(fx->path, "a");
  fputs("{\"time\":\"forged\"}\n", f);
  fclose(f);
  write_records(fx->path, 1);
  assert_int_equal(verify(fx->path, &rec), AVMA_CHAIN_INSERTED);
  assert_int_equal(rec, 4);
  g_unlink(fx->path);
  /* garbled in the middle: edited */
  write_records(fx->path, 3);
  g_auto(GStrv) gl = read_lines(fx->path);
  gl[1][0] = 'X';
  write_lines(fx->path, gl);
  assert_int_equal(verify(fx->path, &rec), AVMA_CHAIN_EDITED);
  assert_int_equal(rec, 2);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_chain_continues, setup, teardown),
      cmocka_unit_test_setup_teardown(test_legacy_lines_then_chain, setup, teardown),
      cmocka_unit_test_setup_teardown(test_cut_tail_set_aside, setup, teardown),
      cmocka_unit_test_setup_teardown(test_group_commit, setup, teardown),
      cmocka_unit_test_setup_teardown(test_group_commit_thread, setup, teardown),
      cmocka_unit_test_setup_teardown(test_tampering, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
