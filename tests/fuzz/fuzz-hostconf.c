/* fuzz-hostconf: avma_host_config_load on arbitrary host.conf text. The file is a memfd opened by
 * its /proc/self/fd path, so the real loader (GKeyFile from a path) runs without touching the
 * disk. What loads must hold values inside the documented ranges; what fails must say why. */
#include "fuzz-glib.h"

#include "host-config.h"

static FuzzMemFile file;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  fuzz_glib_init();
  fuzz_memfile_init(&file, "host.conf");
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_memfile_set(&file, data, size);
  g_autoptr(GError) err = NULL;
  /* The command line's overrides, half of the time. */
  gboolean over = size > 0 && (data[0] & 1);
  g_autoptr(AvmaHostConfig) c = avma_host_config_load(file.path, over ? "/state" : NULL,
                                                      over ? "qemu:///system" : NULL, &err);
  if (!c) {
    check(err != NULL && err->message != NULL);
    return 0;
  }
  check(err == NULL);
  check(c->state_dir != NULL && c->channels != NULL);
  if (over)
    check(!strcmp(c->state_dir, "/state") && !strcmp(c->connect_uri, "qemu:///system"));
  check(c->rate_per_sec >= 1 && c->rate_burst >= 1);
  check(c->frame_deadline_ms >= 100 && c->max_records >= 1 && c->max_records <= 1024);
  check(c->max_queued >= 65536 && c->activations_per_min >= 1 && c->activation_burst >= 1);
  check(c->validity >= 1);
  for (guint i = 0; i < c->channels->len; i++) {
    AvmaChannelSpec *s = c->channels->pdata[i];
    check(s->name && *s->name && s->path && *s->path);
  }
  g_autofree char *p = avma_host_state_path(c, "events.jsonl");
  check(p != NULL);
  return 0;
}
