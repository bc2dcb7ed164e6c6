/* verify-cert: `avma-verify cert` (a host certificate against a root key) and `avma-verify
 * rotation` (a host key's rotation statement against the old key). */
#include "verify.h"

#include "timeutil.h"

static int load_pub(const char *what, const char *path, AvmaPublicKey *out) {
  g_autoptr(GError) err = NULL;
  if (!path)
    return avma_verify_usage("%s is required", what);
  if (!avma_public_key_load(path, out, &err))
    return avma_verify_usage("%s", err->message);
  return AVMA_VERIFY_OK;
}

static int read_arg(const char *cmd, int argc, char **argv, char **text) {
  g_autoptr(GError) err = NULL;
  if (argc != 2)
    return avma_verify_usage("%s: one FILE expected", cmd);
  if (!g_file_get_contents(argv[1], text, NULL, &err))
    return avma_verify_usage("%s: %s", cmd, err->message);
  return AVMA_VERIFY_OK;
}

int avma_verify_cert(int argc, char **argv) {
  g_autofree char *root_path = NULL;
  GOptionEntry e[] = {
      {"root", 0, 0, G_OPTION_ARG_FILENAME, &root_path, "The root public key", "ROOT.pub"}, {NULL}};
  g_autoptr(GError) err = NULL;
  if (!avma_verify_parse("cert", "CERT --root ROOT.pub", e, &argc, &argv, &err))
    return avma_verify_usage("cert: %s", err->message);
  g_autofree char *text = NULL;
  AvmaPublicKey root;
  int rc = read_arg("cert", argc, argv, &text);
  if (rc == AVMA_VERIFY_OK)
    rc = load_pub("--root ROOT.pub", root_path, &root);
  if (rc != AVMA_VERIFY_OK)
    return rc;
  AvmaHostCert c = {0};
  if (!avma_keycert_verify(text, &root, &c, &err))
    return avma_verify_failed("%s: %s", argv[1], err->message);
  g_autofree char *id = avma_key_id_hex(c.pub.id);
  g_autofree char *rid = avma_key_id_hex(root.id);
  g_autofree char *from = avma_time_format(c.valid_from);
  g_autofree char *line = avma_public_key_minisign_line(&c.pub);
  rc = avma_verify_ok("%s: host %s, key %s (minisign %s), certified by root key %s from %s",
                      argv[1], c.host, id, line, rid, from);
  avma_host_cert_clear(&c);
  return rc;
}

int avma_verify_rotation(int argc, char **argv) {
  g_autofree char *key_path = NULL;
  GOptionEntry e[] = {
      {"key", 0, 0, G_OPTION_ARG_FILENAME, &key_path, "The old host public key", "OLD.pub"},
      {NULL}};
  g_autoptr(GError) err = NULL;
  if (!avma_verify_parse("rotation", "STATEMENT --key OLD.pub", e, &argc, &argv, &err))
    return avma_verify_usage("rotation: %s", err->message);
  g_autofree char *text = NULL;
  AvmaPublicKey old;
  int rc = read_arg("rotation", argc, argv, &text);
  if (rc == AVMA_VERIFY_OK)
    rc = load_pub("--key OLD.pub", key_path, &old);
  if (rc != AVMA_VERIFY_OK)
    return rc;
  AvmaKeyRotation r;
  if (!avma_keycert_verify_rotation(text, &old, &r, &err))
    return avma_verify_failed("%s: %s", argv[1], err->message);
  g_autofree char *oid = avma_key_id_hex(r.old_key.id);
  g_autofree char *nid = avma_key_id_hex(r.new_key.id);
  g_autofree char *at = avma_time_format(r.time);
  g_autofree char *line = avma_public_key_minisign_line(&r.new_key);
  return avma_verify_ok("%s: host key %s was rotated to %s (minisign %s) at %s", argv[1], oid, nid,
                        line, at);
}
