/* verify-common: verdict lines, option parsing and the trusted host key for avma-verify. */
#include "verify.h"

#include <stdarg.h>
#include <stdio.h>

static void line(FILE *f, const char *prefix, const char *fmt, va_list ap) {
  fputs(prefix, f);
  vfprintf(f, fmt, ap);
  fputc('\n', f);
}

int avma_verify_ok(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  line(stdout, "OK: ", fmt, ap);
  va_end(ap);
  return AVMA_VERIFY_OK;
}

int avma_verify_failed(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  line(stdout, "FAILED: ", fmt, ap);
  va_end(ap);
  return AVMA_VERIFY_FAILED;
}

int avma_verify_usage(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  line(stderr, "avma-verify: ", fmt, ap);
  va_end(ap);
  return AVMA_VERIFY_USAGE;
}

gboolean avma_verify_parse(const char *cmd, const char *params, GOptionEntry *entries, int *argc,
                           char ***argv, GError **error) {
  g_autoptr(GOptionContext) ctx = g_option_context_new(params);
  g_autofree char *summary = g_strdup_printf("avma-verify %s", cmd);
  g_option_context_set_summary(ctx, summary);
  g_option_context_add_main_entries(ctx, entries, NULL);
  return g_option_context_parse(ctx, argc, argv, error);
}

void avma_verify_key_opts_clear(AvmaVerifyKeyOpts *o) {
  g_clear_pointer(&o->key, g_free);
  g_clear_pointer(&o->root, g_free);
  g_clear_pointer(&o->cert, g_free);
}

static gboolean read_file(const char *what, const char *path, char **text) {
  g_autoptr(GError) e = NULL;
  if (g_file_get_contents(path, text, NULL, &e))
    return TRUE;
  avma_verify_usage("%s: %s", what, e->message);
  return FALSE;
}

int avma_verify_trusted_key(const AvmaVerifyKeyOpts *o, AvmaPublicKey *out, char **how,
                            AvmaHostCert *cert) {
  if (cert)
    *cert = (AvmaHostCert){0};
  if (!!o->key == !!(o->root || o->cert) || (!o->key && !(o->root && o->cert)))
    return avma_verify_usage("give either --key HOST.pub or both --root ROOT.pub and --cert CERT");
  g_autoptr(GError) err = NULL;
  if (o->key) {
    if (!avma_public_key_load(o->key, out, &err))
      return avma_verify_usage("%s", err->message);
    g_autofree char *id = avma_key_id_hex(out->id);
    *how = g_strdup_printf("host key %s", id);
    return AVMA_VERIFY_OK;
  }
  AvmaPublicKey root;
  g_autofree char *text = NULL;
  if (!avma_public_key_load(o->root, &root, &err))
    return avma_verify_usage("%s", err->message);
  if (!read_file("certificate", o->cert, &text))
    return AVMA_VERIFY_USAGE;
  AvmaHostCert c = {0};
  if (!avma_keycert_verify(text, &root, &c, &err))
    return avma_verify_failed("%s: %s", o->cert, err->message);
  *out = c.pub;
  g_autofree char *id = avma_key_id_hex(c.pub.id);
  g_autofree char *rid = avma_key_id_hex(root.id);
  *how = g_strdup_printf("host key %s (host %s, certified by root key %s)", id, c.host, rid);
  if (cert)
    *cert = c;
  else
    avma_host_cert_clear(&c);
  return AVMA_VERIFY_OK;
}
