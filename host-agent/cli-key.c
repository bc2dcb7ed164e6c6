/* cli-key: `avma-host key ...`: the host signing key (show, create, rotate, install-cert) and the
 * provider root key kept on an admin machine (root-new, certify). */
#include "cli.h"
#include "fsutil.h"
#include "hostkey.h"
#include "timeutil.h"

#include <errno.h>
#include <string.h>

static int usage_fail(const char *verb, const GError *err) {
  return avma_cli_fail("key %s: %s", verb, err->message), 2;
}

static gboolean no_args(const char *verb, int argc, char **argv) {
  if (argc <= 1)
    return TRUE;
  avma_cli_fail("key %s: unexpected argument '%s'", verb, argv[1]);
  return FALSE;
}

/* ---- key show ----------------------------------------------------------------------------- */

/* The certificate state in words, and as JSON when o is not NULL. */
static char *cert_state(const char *state_dir, const AvmaPublicKey *pub, JsonObject *o) {
  AvmaHostCert c = {0};
  g_autoptr(GError) err = NULL;
  if (!avma_hostkey_cert(state_dir, &c, &err)) {
    if (o)
      json_object_set_string_member(o, "state", err ? "unreadable" : "none");
    return g_strdup(err ? err->message : "none (avma-host key install-cert FILE)");
  }
  gboolean mine = avma_public_key_equal(&c.pub, pub);
  g_autofree char *from = avma_time_format(c.valid_from);
  if (o) {
    json_object_set_string_member(o, "state", mine ? "installed" : "other-key");
    json_object_set_string_member(o, "host", c.host);
    json_object_set_string_member(o, "root_key_id", c.root_id);
    json_object_set_string_member(o, "valid_from", from);
  }
  char *s = mine ? g_strdup_printf("%s, by root key %s, valid from %s", c.host, c.root_id, from)
                 : g_strdup_printf("for another key: certify %s again", AVMA_HOSTKEY_PUBLIC);
  avma_host_cert_clear(&c);
  return s;
}

/* The rotation history, as text lines or into a JSON array. */
static char *rotations(const char *state_dir, JsonArray *a) {
  g_autoptr(GPtrArray) rs = avma_hostkey_rotations(state_dir);
  g_autoptr(GString) s = g_string_new(NULL);
  for (guint i = 0; i < rs->len; i++) {
    const AvmaHostKeyRotationInfo *r = rs->pdata[i];
    g_autofree char *old_id = r->error ? NULL : avma_hostkey_id(&r->rotation.old_key);
    g_autofree char *new_id = r->error ? NULL : avma_hostkey_id(&r->rotation.new_key);
    g_autofree char *at = r->error ? NULL : avma_time_format(r->rotation.time);
    if (a) {
      JsonObject *o = json_object_new();
      json_object_set_string_member(o, "statement", r->path);
      json_object_set_boolean_member(o, "verified", !r->error);
      if (r->error) {
        json_object_set_string_member(o, "error", r->error);
      } else {
        json_object_set_string_member(o, "old_key_id", old_id);
        json_object_set_string_member(o, "new_key_id", new_id);
        json_object_set_string_member(o, "rotated_at", at);
      }
      json_array_add_object_element(a, o);
    } else if (r->error) {
      g_string_append_printf(s, "Rotation          %s: NOT VERIFIED: %s\n", r->path, r->error);
    } else {
      g_string_append_printf(s, "Rotation          %s -> %s at %s (signed by the old key)\n",
                             old_id, new_id, at);
    }
  }
  return g_string_free(g_steal_pointer(&s), FALSE);
}

int avma_cli_key_show(const AvmaCliGlobals *g, int argc, char **argv) {
  gboolean json = FALSE;
  GOptionEntry e[] = {{"json", 0, 0, G_OPTION_ARG_NONE, &json, "JSON output", NULL}, {NULL}};
  g_autoptr(GError) err = NULL;
  if (!avma_cli_parse("key show", "[--json]", e, &argc, &argv, &err))
    return usage_fail("show", err);
  if (!no_args("show", argc, argv))
    return 2;
  g_autoptr(AvmaHostConfig) c = avma_cli_config(g, &err);
  if (!c)
    return avma_cli_fail("%s", err->message);
  AvmaPublicKey pub;
  if (!avma_hostkey_load_public(c->state_dir, &pub, &err))
    return avma_cli_fail("key show: %s (avma-hostd creates it on first start)", err->message);
  /* The creation time is in the secret file: shown when this user may read it (root). */
  g_autoptr(AvmaKeyPair) kp = avma_hostkey_load(c->state_dir, NULL);
  g_autofree char *created = kp && avma_public_key_equal(&kp->pub, &pub) && kp->created
                                 ? avma_time_format(kp->created)
                                 : NULL;
  g_autofree char *id = avma_hostkey_id(&pub);
  g_autofree char *b64 = avma_public_key_base64(&pub);
  g_autofree char *line = avma_public_key_minisign_line(&pub);
  g_autofree char *file = avma_public_key_minisign_file(&pub);
  g_autofree char *note_name = avma_keycert_note_name(AVMA_KEYCERT_HOST, &pub);
  g_autofree char *vkey = avma_note_verifier_key(note_name, &pub);
  g_autofree char *pub_path = avma_host_state_path(c, AVMA_HOSTKEY_PUBLIC);
  if (json) {
    g_autoptr(JsonObject) o = json_object_new();
    json_object_set_string_member(o, "key_id", id);
    json_object_set_string_member(o, "algorithm", "Ed25519");
    json_object_set_string_member(o, "public_key", b64);
    json_object_set_string_member(o, "minisign_public_key", line);
    json_object_set_string_member(o, "note_verifier_key", vkey);
    json_object_set_string_member(o, "public_key_file", pub_path);
    if (created)
      json_object_set_string_member(o, "created", created);
    else
      json_object_set_null_member(o, "created");
    JsonObject *co = json_object_new();
    g_autofree char *unused = cert_state(c->state_dir, &pub, co);
    json_object_set_object_member(o, "certificate", co);
    JsonArray *ra = json_array_new();
    g_autofree char *unused_r = rotations(c->state_dir, ra);
    json_object_set_array_member(o, "rotations", ra);
    avma_cli_print_object(o);
    return 0;
  }
  g_autofree char *cert = cert_state(c->state_dir, &pub, NULL);
  g_autofree char *rot = rotations(c->state_dir, NULL);
  printf("Host key id       %s\n"
         "Algorithm         Ed25519\n"
         "Public key        %s\n"
         "Note verifier key %s\n"
         "Created           %s\n"
         "Certificate       %s\n"
         "%s"
         "Public key file   %s (minisign -p), which reads:\n%s",
         id, b64, vkey, created ? created : "unknown (readable by root only)", cert, rot, pub_path,
         file);
  return 0;
}

/* ---- key create / rotate ------------------------------------------------------------------ */

int avma_cli_key_create(const AvmaCliGlobals *g, int argc, char **argv) {
  GOptionEntry e[] = {{NULL}};
  g_autoptr(GError) err = NULL;
  if (!avma_cli_parse("key create", "", e, &argc, &argv, &err))
    return usage_fail("create", err);
  if (!no_args("create", argc, argv))
    return 2;
  g_autoptr(AvmaHostConfig) c = avma_cli_config(g, &err);
  if (!c)
    return avma_cli_fail("%s", err->message);
  g_autoptr(AvmaKeyPair) kp = avma_hostkey_create(c->state_dir, &err);
  if (!kp)
    return avma_cli_fail("key create: %s", err->message);
  g_autofree char *id = avma_hostkey_id(&kp->pub);
  printf("Host signing key %s created. Records signed by an earlier key verify only with that "
         "key's public half.\n",
         id);
  return 0;
}

int avma_cli_key_rotate(const AvmaCliGlobals *g, int argc, char **argv) {
  GOptionEntry e[] = {{NULL}};
  g_autoptr(GError) err = NULL;
  if (!avma_cli_parse("key rotate", "", e, &argc, &argv, &err))
    return usage_fail("rotate", err);
  if (!no_args("rotate", argc, argv))
    return 2;
  g_autoptr(AvmaHostConfig) c = avma_cli_config(g, &err);
  if (!c)
    return avma_cli_fail("%s", err->message);
  AvmaPublicKey old;
  gboolean had_old = avma_hostkey_load_public(c->state_dir, &old, NULL);
  g_autofree char *statement = NULL;
  g_autoptr(AvmaKeyPair) kp = avma_hostkey_rotate(c->state_dir, &statement, &err);
  if (!kp)
    return avma_cli_fail("key rotate: %s", err->message);
  g_autofree char *id = avma_hostkey_id(&kp->pub);
  g_autofree char *old_id = had_old ? avma_hostkey_id(&old) : g_strdup("?");
  g_autofree char *rot = avma_hostkey_rotation_path(c->state_dir, id);
  printf("Host signing key rotated: %s -> %s. The running avma-hostd signs with the new key from "
         "its next record.\nRotation statement (signed by the old key): %s\nCertify the new "
         "key: avma-host key certify --root ROOT.sec %s\n",
         old_id, id, rot, AVMA_HOSTKEY_PUBLIC);
  return 0;
}

/* ---- key install-cert --------------------------------------------------------------------- */

int avma_cli_key_install_cert(const AvmaCliGlobals *g, int argc, char **argv) {
  g_autofree char *root_path = NULL;
  GOptionEntry e[] = {{"root", 0, 0, G_OPTION_ARG_FILENAME, &root_path,
                       "Also check the root's signature with its public key", "ROOT.pub"},
                      {NULL}};
  g_autoptr(GError) err = NULL;
  if (!avma_cli_parse("key install-cert", "CERT [--root ROOT.pub]", e, &argc, &argv, &err))
    return usage_fail("install-cert", err);
  if (argc != 2)
    return avma_cli_fail("key install-cert: one certificate file expected"), 2;
  AvmaPublicKey root;
  if (root_path && !avma_public_key_load(root_path, &root, &err))
    return avma_cli_fail("key install-cert: %s", err->message), 2;
  g_autofree char *text = NULL;
  if (!g_file_get_contents(argv[1], &text, NULL, &err))
    return avma_cli_fail("key install-cert: %s", err->message), 2;
  g_autoptr(AvmaHostConfig) c = avma_cli_config(g, &err);
  if (!c)
    return avma_cli_fail("%s", err->message);
  AvmaHostCert cert = {0};
  if (!avma_hostkey_install_cert(c->state_dir, text, root_path ? &root : NULL, &cert, &err))
    return avma_cli_fail("key install-cert: %s: %s", argv[1], err->message);
  g_autofree char *id = avma_hostkey_id(&cert.pub);
  printf("Certificate installed: host %s, key %s, by root key %s%s.\n", cert.host, id, cert.root_id,
         root_path ? " (signature checked)" : "");
  avma_host_cert_clear(&cert);
  return 0;
}

/* ---- the provider root key (admin machine) ------------------------------------------------ */

int avma_cli_key_root_new(const AvmaCliGlobals *g, int argc, char **argv) {
  (void)g;
  g_autofree char *out = NULL;
  GOptionEntry e[] = {
      {"out", 0, 0, G_OPTION_ARG_FILENAME, &out, "Directory for root.sec and root.pub", "DIR"},
      {NULL}};
  g_autoptr(GError) err = NULL;
  if (!avma_cli_parse("key root-new", "--out DIR", e, &argc, &argv, &err))
    return usage_fail("root-new", err);
  if (!no_args("root-new", argc, argv))
    return 2;
  if (!out)
    return avma_cli_fail("key root-new: --out DIR is required"), 2;
  g_autofree char *sec = g_build_filename(out, "root.sec", NULL);
  g_autofree char *pub = g_build_filename(out, "root.pub", NULL);
  if (g_file_test(sec, G_FILE_TEST_EXISTS) || g_file_test(pub, G_FILE_TEST_EXISTS) ||
      g_file_test(sec, G_FILE_TEST_IS_SYMLINK))
    return avma_cli_fail("key root-new: %s already holds a root key; not overwriting it", out);
  if (g_mkdir_with_parents(out, 0700) != 0)
    return avma_cli_fail("key root-new: cannot create %s: %s", out, g_strerror(errno));
  g_autoptr(AvmaKeyPair) kp = avma_key_pair_generate();
  g_autofree char *pubtext = avma_public_key_minisign_file(&kp->pub);
  if (!avma_key_pair_save(kp, sec, &err) || !avma_write_atomic(pub, pubtext, -1, 0644, &err))
    return avma_cli_fail("key root-new: %s", err->message);
  g_autofree char *id = avma_key_id_hex(kp->pub.id);
  printf("Root key %s created: %s (secret: keep it offline) and %s (give it to auditors).\n", id,
         sec, pub);
  return 0;
}

int avma_cli_key_certify(const AvmaCliGlobals *g, int argc, char **argv) {
  (void)g;
  g_autofree char *root_path = NULL, *name = NULL, *out = NULL, *from_s = NULL;
  GOptionEntry e[] = {
      {"root", 0, 0, G_OPTION_ARG_FILENAME, &root_path, "The root's secret key", "ROOT.sec"},
      {"name", 0, 0, G_OPTION_ARG_STRING, &name, "Host name (default: host-<KEY ID>)", "HOST"},
      {"out", 0, 0, G_OPTION_ARG_FILENAME, &out, "Write here (default: standard output)", "FILE"},
      {"valid-from", 0, 0, G_OPTION_ARG_STRING, &from_s, "Validity start (default: now)", "T"},
      {NULL}};
  g_autoptr(GError) err = NULL;
  if (!avma_cli_parse("key certify", "--root ROOT.sec HOSTKEY.pub [--name HOST] [--out FILE]", e,
                      &argc, &argv, &err))
    return usage_fail("certify", err);
  if (!root_path || argc != 2)
    return avma_cli_fail("key certify: --root ROOT.sec and one HOSTKEY.pub are required"), 2;
  gint64 from = avma_now();
  if (from_s && !avma_time_parse_loose(from_s, &from))
    return avma_cli_fail("key certify: --valid-from '%s' is not a time", from_s), 2;
  g_autoptr(AvmaKeyPair) root = avma_key_pair_load(root_path, &err);
  if (!root)
    return avma_cli_fail("key certify: %s", err->message);
  AvmaPublicKey host;
  if (!avma_public_key_load(argv[1], &host, &err))
    return avma_cli_fail("key certify: %s", err->message), 2;
  g_autofree char *id = avma_key_id_hex(host.id);
  g_autofree char *dflt = g_strdup_printf("host-%s", id);
  g_autofree char *cert = avma_keycert_certify(root, &host, name ? name : dflt, from, &err);
  if (!cert)
    return avma_cli_fail("key certify: %s", err->message), 2;
  if (!out) {
    fputs(cert, stdout);
    return 0;
  }
  if (!avma_write_atomic(out, cert, -1, 0644, &err))
    return avma_cli_fail("key certify: %s", err->message);
  printf("Certificate for host key %s written to %s; install it on the host with `avma-host key "
         "install-cert %s`.\n",
         id, out, out);
  return 0;
}
