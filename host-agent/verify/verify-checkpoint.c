/* verify-checkpoint: `avma-verify checkpoint`: signed notes by the host key (the record log's
 * checkpoints, or any note the host signed), whatever key name they are signed under. */
#include "verify.h"

#include <string.h>

static int one(const char *path, const AvmaPublicKey *pub, const char *how) {
  g_autofree char *note = NULL;
  g_autoptr(GError) err = NULL;
  if (!g_file_get_contents(path, &note, NULL, &err))
    return avma_verify_usage("checkpoint: %s", err->message);
  AvmaNoteKey k = {.name = NULL, .pub = *pub};
  g_autofree char *body = NULL, *signer = NULL;
  if (!avma_note_open(note, &k, 1, &body, &signer, &err))
    return avma_verify_failed("%s: %s", path, err->message);
  /* The first line says what the note is (its origin line for a checkpoint). */
  g_autofree char *first = g_strndup(body, strcspn(body, "\n"));
  return avma_verify_ok("%s signed by %s as %s: %s", path, how, signer, first);
}

int avma_verify_checkpoint(int argc, char **argv) {
  AvmaVerifyKeyOpts ko = {0};
  GOptionEntry e[] = {AVMA_VERIFY_KEY_OPTIONS(&ko), {NULL}};
  g_autoptr(GError) err = NULL;
  if (!avma_verify_parse("checkpoint", "FILE... (--key HOST.pub | --root ROOT.pub --cert CERT)", e,
                         &argc, &argv, &err))
    return avma_verify_key_opts_clear(&ko), avma_verify_usage("checkpoint: %s", err->message);
  if (argc < 2)
    return avma_verify_key_opts_clear(&ko),
           avma_verify_usage("checkpoint: at least one FILE expected");
  AvmaPublicKey pub;
  g_autofree char *how = NULL;
  int rc = avma_verify_trusted_key(&ko, &pub, &how, NULL);
  avma_verify_key_opts_clear(&ko);
  if (rc != AVMA_VERIFY_OK)
    return rc;
  /* Every file is checked and has its verdict; the worst status is the exit status. */
  for (int i = 1; i < argc; i++) {
    int one_rc = one(argv[i], &pub, how);
    rc = MAX(rc, one_rc);
  }
  return rc;
}
