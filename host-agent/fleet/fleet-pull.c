/* fleet-pull: run one host's pull command under a timeout on a GMainLoop. */
#include "fleet-pull.h"

#include <gio/gio.h>
#include <string.h>

typedef struct {
  GMainLoop *loop;
  GBytes *out;
  GError *error;
  gboolean timed_out;
} Pull;

static void on_done(GObject *src, GAsyncResult *res, gpointer data) {
  Pull *p = data;
  g_subprocess_communicate_finish(G_SUBPROCESS(src), res, &p->out, NULL, &p->error);
  g_main_loop_quit(p->loop);
}

static gboolean on_timeout(gpointer data) {
  Pull *p = data;
  p->timed_out = TRUE;
  g_main_loop_quit(p->loop);
  return G_SOURCE_REMOVE;
}

static char *expand(const char *word, const char *host, const char *since) {
  g_autoptr(GString) s = g_string_new(word);
  g_string_replace(s, "{host}", host, 0);
  g_string_replace(s, "{since}", since, 0);
  return g_string_free(g_steal_pointer(&s), FALSE);
}

GBytes *avma_fleet_pull(const AvmaFleetConfig *cfg, const AvmaFleetHost *host, guint64 since,
                        GError **error) {
  g_auto(GStrv) words = NULL;
  const char *cmd = host->command ? host->command : cfg->pull_command;
  if (!g_shell_parse_argv(cmd, NULL, &words, error))
    return NULL;
  g_autofree char *s = g_strdup_printf("%" G_GUINT64_FORMAT, since);
  g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);
  for (char **w = words; *w; w++)
    g_ptr_array_add(argv, expand(*w, host->name, s));
  g_ptr_array_add(argv, NULL);
  g_autoptr(GSubprocess) proc =
      g_subprocess_newv((const char *const *)argv->pdata, G_SUBPROCESS_FLAGS_STDOUT_PIPE, error);
  if (!proc)
    return NULL;
  g_autoptr(GMainContext) ctx = g_main_context_new();
  g_main_context_push_thread_default(ctx);
  Pull p = {.loop = g_main_loop_new(ctx, FALSE)};
  g_subprocess_communicate_async(proc, NULL, NULL, on_done, &p);
  GSource *t = g_timeout_source_new_seconds((guint)cfg->pull_timeout);
  g_source_set_callback(t, on_timeout, &p, NULL);
  g_source_attach(t, ctx);
  g_main_loop_run(p.loop);
  g_source_destroy(t);
  g_source_unref(t);
  if (p.timed_out) {
    g_subprocess_force_exit(proc);
    /* Let the communicate finish (it fails once the pipe closes) before the loop goes. */
    while (!p.out && !p.error)
      g_main_context_iteration(ctx, TRUE);
  }
  g_main_loop_unref(p.loop);
  g_main_context_pop_thread_default(ctx);
  if (p.timed_out) {
    g_clear_error(&p.error);
    g_clear_pointer(&p.out, g_bytes_unref);
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                "%s: still running after %" G_GINT64_FORMAT " s, killed", (char *)argv->pdata[0],
                cfg->pull_timeout);
    return NULL;
  }
  if (p.error) {
    g_propagate_error(error, p.error);
    g_clear_pointer(&p.out, g_bytes_unref);
    return NULL;
  }
  if (!g_subprocess_get_if_exited(proc) || g_subprocess_get_exit_status(proc) != 0) {
    g_bytes_unref(p.out);
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "`%s` failed (exit status %d)", cmd,
                g_subprocess_get_if_exited(proc) ? g_subprocess_get_exit_status(proc) : -1);
    return NULL;
  }
  return p.out;
}
