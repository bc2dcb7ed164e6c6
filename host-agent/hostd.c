/* avma-hostd: the host agent daemon. Wiring only: options, config, host core, channel sessions,
 * signals. */
#include "host-config.h"
#include "host.h"
#include "session.h"

#include <gio/gio.h>
#include <glib-unix.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>

static gboolean on_signal(gpointer loop) {
  g_main_loop_quit(loop);
  return G_SOURCE_CONTINUE;
}

int main(int argc, char **argv) {
  setlocale(LC_ALL, "");
  g_autofree char *config_path = NULL, *state_dir = NULL, *connect_uri = NULL;
  g_auto(GStrv) channels = NULL;
  gboolean verbose = FALSE, version = FALSE;
  GOptionEntry entries[] = {
      {"config", 'c', 0, G_OPTION_ARG_FILENAME, &config_path, "Configuration file", "FILE"},
      {"state-dir", 's', 0, G_OPTION_ARG_FILENAME, &state_dir, "State directory", "DIR"},
      {"channel", 0, 0, G_OPTION_ARG_STRING_ARRAY, &channels,
       "Serve a channel socket (repeatable; disables libvirt discovery)", "VMNAME=SOCKETPATH"},
      {"connect", 0, 0, G_OPTION_ARG_STRING, &connect_uri, "libvirt URI", "URI"},
      {"verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, "Log every connection", NULL},
      {"version", 0, 0, G_OPTION_ARG_NONE, &version, "Print the version", NULL},
      {NULL}};
  g_autoptr(GOptionContext) ctx = g_option_context_new("- AVMA host agent");
  g_option_context_add_main_entries(ctx, entries, NULL);
  g_option_context_set_summary(ctx, "Answers AVMA activation requests from guests over the "
                                    "virtio-serial channel " AVMA_CHANNEL_NAME ".");
  g_autoptr(GError) err = NULL;
  if (!g_option_context_parse(ctx, &argc, &argv, &err)) {
    fprintf(stderr, "avma-hostd: %s (try --help)\n", err->message);
    return 2;
  }
  if (version) {
    printf("avma-hostd %s\n", AVMA_VERSION);
    return 0;
  }
  if (verbose)
    g_setenv("G_MESSAGES_DEBUG", "all", TRUE);
  g_autoptr(AvmaHostConfig) config =
      avma_host_config_load(config_path, state_dir, connect_uri, &err);
  if (!config) {
    fprintf(stderr, "avma-hostd: %s\n", err->message);
    return 1;
  }
  for (char **c = channels; c && *c; c++) {
    if (!avma_host_config_add_channel(config, *c, &err)) {
      fprintf(stderr, "avma-hostd: %s\n", err->message);
      return 2;
    }
  }
  g_autoptr(AvmaHost) host = avma_host_new(config, &err);
  if (!host) {
    fprintf(stderr, "avma-hostd: %s\n", err->message);
    return 1;
  }
  const AvmaLicence *l = avma_host_licence(host);
  if (l->version == AVMA_VERSION_UNKNOWN)
    g_warning("host licence not set: every guest gets Invalid Host (see `avma-host license set`)");

  g_autoptr(GPtrArray) sessions = g_ptr_array_new_with_free_func((GDestroyNotify)avma_session_free);
  for (guint i = 0; i < config->channels->len; i++) {
    AvmaChannelSpec *spec = config->channels->pdata[i];
    AvmaVm *vm = avma_host_vm(host, spec->name, NULL);
    g_ptr_array_add(sessions, avma_session_new(host, vm, spec->path));
  }
  if (config->channels->len == 0) {
    fprintf(stderr, "avma-hostd: no channels to serve: give --channel VMNAME=SOCKETPATH or "
                    "[channels] in the config\n");
    return 2;
  }

  g_autoptr(GMainLoop) loop = g_main_loop_new(NULL, FALSE);
  g_unix_signal_add(SIGTERM, on_signal, loop);
  g_unix_signal_add(SIGINT, on_signal, loop);
  g_message("avma-hostd %s serving %u channel(s), state in %s", AVMA_VERSION, config->channels->len,
            config->state_dir);
  g_main_loop_run(loop);
  g_message("avma-hostd stopping");
  return 0;
}
