/* hostkey: the host's signing key: creation, loading, rotation, certificate. */
#include "hostkey.h"

#include "state-files.h"

#include "chainlog.h"
#include "fsutil.h"
#include "jsonline.h"
#include "timeutil.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

G_DEFINE_QUARK(avma - hostkey - error - quark, avma_hostkey_error)

static char *state_file(const char *state_dir, const char *name) {
  return g_build_filename(state_dir, name, NULL);
}

char *avma_hostkey_id(const AvmaPublicKey *pub) {
  return avma_key_id_hex(pub->id);
}

/* Whether the log's last record is chained: written by a version that signs, so a key existed.
 * A last line that does not parse (cut by a crash, or edited) counts as chained: when in doubt,
 * refuse rather than start a new key silently. */
static gboolean events_chained(const char *path, gint64 size) {
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0)
    return TRUE;
  gint64 want = MIN(size, 65536);
  g_autofree char *buf = g_malloc((gsize)want + 1);
  ssize_t n = pread(fd, buf, (size_t)want, size - want);
  close(fd);
  if (n <= 0)
    return TRUE;
  buf[n] = '\0';
  g_strchomp(buf);
  const char *last = strrchr(buf, '\n');
  last = last ? last + 1 : buf;
  g_autoptr(JsonParser) p = json_parser_new();
  JsonObject *o = avma_json_object_parse(p, last, -1);
  return !o || json_object_has_member(o, AVMA_CHAIN_SEQ);
}

/* What says that an earlier key signed something here: chained records, checkpoints, retired
 * keys, or a public key whose secret half is gone. A log from before signing (no record is
 * chained) was never signed: a first key is created for it as for a new host. */
static const char *history_witness(const char *state_dir) {
  g_autofree char *events = state_file(state_dir, AVMA_HOST_EVENTS_FILE);
  g_autofree char *checkpoints = state_file(state_dir, AVMA_CHECKPOINT_FILE);
  g_autofree char *keys = state_file(state_dir, AVMA_HOSTKEY_DIR);
  g_autofree char *pub = state_file(state_dir, AVMA_HOSTKEY_PUBLIC);
  struct stat st;
  if (stat(events, &st) == 0 && st.st_size > 0 && events_chained(events, st.st_size))
    return AVMA_HOST_EVENTS_FILE;
  if (g_file_test(checkpoints, G_FILE_TEST_EXISTS))
    return AVMA_CHECKPOINT_FILE;
  if (g_file_test(keys, G_FILE_TEST_IS_DIR))
    return AVMA_HOSTKEY_DIR "/";
  if (g_file_test(pub, G_FILE_TEST_EXISTS))
    return AVMA_HOSTKEY_PUBLIC;
  return NULL;
}

static gboolean write_public(const char *state_dir, const AvmaPublicKey *pub, GError **error) {
  g_autofree char *path = state_file(state_dir, AVMA_HOSTKEY_PUBLIC);
  g_autofree char *text = avma_public_key_minisign_file(pub);
  return avma_write_atomic(path, text, -1, 0644, error);
}

static AvmaKeyPair *load_secret(const char *path, GError **error) {
  g_autoptr(GError) e = NULL;
  AvmaKeyPair *kp = avma_key_pair_load(path, &e);
  if (kp)
    return kp;
  const char *fix = g_error_matches(e, AVMA_SIGN_ERROR, AVMA_SIGN_ERROR_PERMISSION)
                        ? "if others may have read it, also run `avma-host key rotate`"
                    : g_error_matches(e, AVMA_SIGN_ERROR, AVMA_SIGN_ERROR_MALFORMED)
                        ? "fix: restore it from a backup (avma-hostd never replaces a key silently)"
                        : "fix: make it readable by avma-hostd's user, or restore it from a backup";
  g_set_error(error, AVMA_HOSTKEY_ERROR, AVMA_HOSTKEY_ERROR_UNUSABLE,
              "host signing key unusable: %s; %s", e->message, fix);
  return NULL;
}

AvmaKeyPair *avma_hostkey_load(const char *state_dir, GError **error) {
  g_autofree char *path = state_file(state_dir, AVMA_HOSTKEY_SECRET);
  return load_secret(path, error);
}

AvmaKeyPair *avma_hostkey_open(const char *state_dir, GError **error) {
  g_autofree char *path = state_file(state_dir, AVMA_HOSTKEY_SECRET);
  if (g_file_test(path, G_FILE_TEST_EXISTS) || g_file_test(path, G_FILE_TEST_IS_SYMLINK)) {
    g_autoptr(AvmaKeyPair) kp = load_secret(path, error);
    AvmaPublicKey on_disk;
    if (kp &&
        (!avma_hostkey_load_public(state_dir, &on_disk, NULL) ||
         !avma_public_key_equal(&on_disk, &kp->pub)) &&
        !write_public(state_dir, &kp->pub, error))
      return NULL;
    return g_steal_pointer(&kp);
  }
  const char *witness = history_witness(state_dir);
  if (witness) {
    g_set_error(error, AVMA_HOSTKEY_ERROR, AVMA_HOSTKEY_ERROR_MISSING,
                "host signing key %s is missing, but %s/%s shows history signed by an earlier "
                "key; fix: restore %s from a backup, or start over with a new key by `avma-host "
                "key create` (auditors will see the key change)",
                path, state_dir, witness, AVMA_HOSTKEY_SECRET);
    return NULL;
  }
  if (!avma_ensure_dir(state_dir, 0750, error))
    return NULL;
  g_autoptr(AvmaKeyPair) kp = avma_key_pair_generate();
  if (!avma_key_pair_save(kp, path, error) || !write_public(state_dir, &kp->pub, error))
    return NULL;
  g_autofree char *id = avma_hostkey_id(&kp->pub);
  g_autofree char *events = state_file(state_dir, AVMA_HOST_EVENTS_FILE);
  struct stat st;
  if (stat(events, &st) == 0 && st.st_size > 0)
    g_message("created host signing key %s (%s); the records already in %s were written before "
              "signing: the chain starts after them (avma-host history verify counts them)",
              id, path, AVMA_HOST_EVENTS_FILE);
  else
    g_message("created host signing key %s (%s)", id, path);
  return g_steal_pointer(&kp);
}

static gboolean own_like(const char *path, const struct stat *like, GError **error);

AvmaKeyPair *avma_hostkey_create(const char *state_dir, GError **error) {
  g_autofree char *path = state_file(state_dir, AVMA_HOSTKEY_SECRET);
  g_autofree char *pub = state_file(state_dir, AVMA_HOSTKEY_PUBLIC);
  if (g_file_test(path, G_FILE_TEST_EXISTS) || g_file_test(path, G_FILE_TEST_IS_SYMLINK)) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_EXISTS,
                "%s exists; `avma-host key rotate` replaces a key with a signed statement", path);
    return NULL;
  }
  struct stat owner;
  if (!avma_ensure_dir(state_dir, 0750, error))
    return NULL;
  if (stat(state_dir, &owner) != 0) {
    g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno), "cannot read %s: %s", state_dir,
                g_strerror(errno));
    return NULL;
  }
  g_autoptr(AvmaKeyPair) kp = avma_key_pair_generate();
  if (!avma_key_pair_save(kp, path, error) || !own_like(path, &owner, error) ||
      !write_public(state_dir, &kp->pub, error) || !own_like(pub, &owner, error))
    return NULL;
  return g_steal_pointer(&kp);
}

gboolean avma_hostkey_load_public(const char *state_dir, AvmaPublicKey *out, GError **error) {
  g_autofree char *path = state_file(state_dir, AVMA_HOSTKEY_PUBLIC);
  return avma_public_key_load(path, out, error);
}

/* ---- the daemon's view ---------------------------------------------------------------------*/

struct AvmaHostKey {
  char *state_dir, *path;
  AvmaKeyPair *kp;
  struct stat st;
  gboolean have_st, warned;
  char *last_rotation;
  GFileMonitor *monitor;
  AvmaHostKeyRotated on_rotated;
  gpointer on_rotated_user;
  guint notify_idle; /* a rotation to report to on_rotated */
};

AvmaHostKey *avma_hostkey_new(const char *state_dir, AvmaKeyPair *kp) {
  AvmaHostKey *hk = g_new0(AvmaHostKey, 1);
  hk->state_dir = g_strdup(state_dir);
  hk->path = state_file(state_dir, AVMA_HOSTKEY_SECRET);
  hk->kp = kp;
  hk->have_st = stat(hk->path, &hk->st) == 0;
  return hk;
}

void avma_hostkey_free(AvmaHostKey *hk) {
  if (!hk)
    return;
  if (hk->notify_idle)
    g_source_remove(hk->notify_idle);
  if (hk->monitor) {
    g_signal_handlers_disconnect_by_data(hk->monitor, hk);
    g_file_monitor_cancel(hk->monitor);
    g_object_unref(hk->monitor);
  }
  avma_key_pair_free(hk->kp);
  g_free(hk->state_dir);
  g_free(hk->path);
  g_free(hk->last_rotation);
  g_free(hk);
}

static gboolean same_file(const struct stat *a, const struct stat *b) {
  return a->st_ino == b->st_ino && a->st_dev == b->st_dev && a->st_size == b->st_size &&
         a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

static gboolean notify_rotated(gpointer data) {
  AvmaHostKey *hk = data;
  hk->notify_idle = 0;
  if (hk->on_rotated)
    hk->on_rotated(hk, hk->last_rotation, hk->on_rotated_user);
  return G_SOURCE_REMOVE;
}

const AvmaKeyPair *avma_hostkey_get(AvmaHostKey *hk, gboolean *rotated) {
  if (rotated)
    *rotated = FALSE;
  struct stat st;
  if (stat(hk->path, &st) != 0 || (hk->have_st && same_file(&st, &hk->st)))
    return hk->kp;
  g_autoptr(GError) err = NULL;
  AvmaKeyPair *fresh = load_secret(hk->path, &err);
  if (!fresh) {
    if (!hk->warned)
      g_warning("keeping the previous host signing key: %s", err->message);
    hk->warned = TRUE;
    return hk->kp;
  }
  hk->st = st;
  hk->have_st = TRUE;
  hk->warned = FALSE;
  if (avma_public_key_equal(&fresh->pub, &hk->kp->pub)) {
    avma_key_pair_free(fresh);
    return hk->kp;
  }
  g_autofree char *id = avma_hostkey_id(&fresh->pub);
  g_autofree char *rot = avma_hostkey_rotation_path(hk->state_dir, id);
  g_free(hk->last_rotation);
  hk->last_rotation = NULL;
  if (!g_file_get_contents(rot, &hk->last_rotation, NULL, NULL))
    g_warning("host signing key changed to %s without a rotation statement (%s)", id, rot);
  else
    g_message("host signing key rotated to %s", id);
  avma_key_pair_free(hk->kp);
  hk->kp = fresh;
  if (rotated)
    *rotated = TRUE;
  /* Reported whoever noticed first (a signature or the watch), once, from the main loop. */
  if (hk->on_rotated && !hk->notify_idle)
    hk->notify_idle = g_idle_add(notify_rotated, hk);
  return hk->kp;
}

const char *avma_hostkey_last_rotation(AvmaHostKey *hk) {
  return hk->last_rotation;
}

static void on_key_file(GFileMonitor *m, GFile *f, GFile *other, GFileMonitorEvent ev,
                        gpointer user) {
  (void)m, (void)f, (void)other, (void)ev;
  /* A rotation found here is reported by avma_hostkey_get. */
  avma_hostkey_get(user, NULL);
}

void avma_hostkey_watch(AvmaHostKey *hk, AvmaHostKeyRotated fn, gpointer user) {
  g_return_if_fail(!hk->monitor);
  hk->on_rotated = fn;
  hk->on_rotated_user = user;
  g_autoptr(GFile) f = g_file_new_for_path(hk->path);
  g_autoptr(GError) err = NULL;
  /* WATCH_MOVES: the CLI replaces the file by rename, which is a move into the directory. */
  hk->monitor = g_file_monitor_file(f, G_FILE_MONITOR_WATCH_MOVES, NULL, &err);
  if (!hk->monitor) {
    g_warning("cannot watch %s (a rotation is loaded on the next signature): %s", hk->path,
              err->message);
    return;
  }
  g_signal_connect(hk->monitor, "changed", G_CALLBACK(on_key_file), hk);
}

/* ---- rotation ------------------------------------------------------------------------------*/

char *avma_hostkey_rotation_path(const char *state_dir, const char *new_id) {
  g_autofree char *name = g_strdup_printf("rotation-%s.note", new_id);
  return g_build_filename(state_dir, AVMA_HOSTKEY_DIR, name, NULL);
}

static gboolean errno_error(GError **error, const char *what, const char *path) {
  int e = errno;
  g_set_error(error, G_IO_ERROR, g_io_error_from_errno(e), "cannot %s %s: %s", what, path,
              g_strerror(e));
  return FALSE;
}

/* The root-run CLI writes files the daemon must read: give them the owner of what they replace. */
static gboolean own_like(const char *path, const struct stat *like, GError **error) {
  if (geteuid() != 0)
    return TRUE;
  if (chown(path, like->st_uid, like->st_gid) != 0)
    return errno_error(error, "give the daemon's user", path);
  return TRUE;
}

/* Keep the retired key's public half and certificate where verifiers of old records find them. */
static gboolean archive_old(const char *state_dir, const char *keys, const AvmaKeyPair *old,
                            const struct stat *owner, GError **error) {
  g_autofree char *old_id = avma_hostkey_id(&old->pub);
  g_autofree char *pub_name = g_strdup_printf("%s.pub", old_id);
  g_autofree char *pub_path = g_build_filename(keys, pub_name, NULL);
  g_autofree char *pub = avma_public_key_minisign_file(&old->pub);
  if (!avma_write_atomic(pub_path, pub, -1, 0644, error) || !own_like(pub_path, owner, error))
    return FALSE;
  g_autofree char *cert_path = state_file(state_dir, AVMA_HOSTKEY_CERT);
  g_autofree char *cert = NULL;
  if (!g_file_get_contents(cert_path, &cert, NULL, NULL))
    return TRUE;
  g_autofree char *cert_name = g_strdup_printf("%s.cert", old_id);
  g_autofree char *archived = g_build_filename(keys, cert_name, NULL);
  if (!avma_write_atomic(archived, cert, -1, 0644, error) || !own_like(archived, owner, error))
    return FALSE;
  /* The certificate names the old key: left in place it would look valid for the new one. */
  if (g_unlink(cert_path) != 0)
    return errno_error(error, "remove", cert_path);
  return TRUE;
}

AvmaKeyPair *avma_hostkey_rotate(const char *state_dir, char **statement, GError **error) {
  g_autofree char *path = state_file(state_dir, AVMA_HOSTKEY_SECRET);
  struct stat owner;
  if (stat(path, &owner) != 0) {
    errno_error(error, "read", path);
    return NULL;
  }
  g_autoptr(AvmaKeyPair) old = load_secret(path, error);
  if (!old)
    return NULL;
  g_autoptr(AvmaKeyPair) fresh = avma_key_pair_generate();
  g_autofree char *text = avma_keycert_rotation(old, fresh, fresh->created);
  g_autofree char *keys = state_file(state_dir, AVMA_HOSTKEY_DIR);
  g_autofree char *new_id = avma_hostkey_id(&fresh->pub);
  g_autofree char *rot = avma_hostkey_rotation_path(state_dir, new_id);
  /* Statement and archive first: a crash before the key is replaced leaves the old key in use
   * and a statement naming a key that never signed anything. */
  if (!avma_ensure_dir(keys, 0750, error) || !own_like(keys, &owner, error) ||
      !avma_write_atomic(rot, text, -1, 0644, error) || !own_like(rot, &owner, error) ||
      !archive_old(state_dir, keys, old, &owner, error))
    return NULL;
  if (!avma_key_pair_save(fresh, path, error) || !own_like(path, &owner, error) ||
      !write_public(state_dir, &fresh->pub, error))
    return NULL;
  g_autofree char *pub_path = state_file(state_dir, AVMA_HOSTKEY_PUBLIC);
  if (!own_like(pub_path, &owner, error))
    return NULL;
  if (statement)
    *statement = g_steal_pointer(&text);
  return g_steal_pointer(&fresh);
}

static void rotation_info_free(gpointer p) {
  AvmaHostKeyRotationInfo *i = p;
  g_free(i->path);
  g_free(i->error);
  g_free(i);
}

/* The old key a statement names, read from the statement's own text: only to find which archived
 * public key to check it with. */
static gboolean statement_old_id(const char *text, char **id) {
  const char *at = strstr(text, "\nold-key-id ");
  if (!at)
    return FALSE;
  at += strlen("\nold-key-id ");
  *id = g_strndup(at, strcspn(at, "\n"));
  return TRUE;
}

static AvmaHostKeyRotationInfo *rotation_info(const char *keys, const char *name) {
  AvmaHostKeyRotationInfo *i = g_new0(AvmaHostKeyRotationInfo, 1);
  i->path = g_build_filename(keys, name, NULL);
  g_autofree char *text = NULL, *old_id = NULL;
  g_autoptr(GError) err = NULL;
  if (!g_file_get_contents(i->path, &text, NULL, &err)) {
    i->error = g_strdup(err->message);
    return i;
  }
  if (!statement_old_id(text, &old_id)) {
    i->error = g_strdup("not a rotation statement");
    return i;
  }
  g_autofree char *pub_name = g_strdup_printf("%s.pub", old_id);
  g_autofree char *pub_path = g_build_filename(keys, pub_name, NULL);
  AvmaPublicKey old;
  if (!avma_public_key_load(pub_path, &old, &err) ||
      !avma_keycert_verify_rotation(text, &old, &i->rotation, &err))
    i->error = g_strdup(err->message);
  return i;
}

static gint by_time(gconstpointer a, gconstpointer b) {
  const AvmaHostKeyRotationInfo *x = *(AvmaHostKeyRotationInfo *const *)a;
  const AvmaHostKeyRotationInfo *y = *(AvmaHostKeyRotationInfo *const *)b;
  if (x->rotation.time != y->rotation.time)
    return x->rotation.time < y->rotation.time ? -1 : 1;
  return strcmp(x->path, y->path);
}

GPtrArray *avma_hostkey_rotations(const char *state_dir) {
  GPtrArray *out = g_ptr_array_new_with_free_func(rotation_info_free);
  g_autofree char *keys = state_file(state_dir, AVMA_HOSTKEY_DIR);
  g_autoptr(GDir) dir = g_dir_open(keys, 0, NULL);
  const char *name;
  while (dir && (name = g_dir_read_name(dir)))
    if (g_str_has_prefix(name, "rotation-") && g_str_has_suffix(name, ".note"))
      g_ptr_array_add(out, rotation_info(keys, name));
  g_ptr_array_sort(out, by_time);
  return out;
}

/* ---- certificate ---------------------------------------------------------------------------*/

gboolean avma_hostkey_install_cert(const char *state_dir, const char *cert_text,
                                   const AvmaPublicKey *root, AvmaHostCert *out, GError **error) {
  AvmaPublicKey own;
  if (!avma_hostkey_load_public(state_dir, &own, error))
    return FALSE;
  AvmaHostCert c = {0};
  gboolean ok = root ? avma_keycert_verify(cert_text, root, &c, error)
                     : avma_keycert_parse(cert_text, &c, error);
  if (!ok)
    return FALSE;
  if (!avma_public_key_equal(&c.pub, &own)) {
    g_autofree char *got = avma_hostkey_id(&c.pub);
    g_autofree char *want = avma_hostkey_id(&own);
    g_set_error(error, AVMA_HOSTKEY_ERROR, AVMA_HOSTKEY_ERROR_CERT,
                "the certificate is for key %s, not for this host's key %s (certify "
                "STATE/%s)",
                got, want, AVMA_HOSTKEY_PUBLIC);
    avma_host_cert_clear(&c);
    return FALSE;
  }
  g_autofree char *path = state_file(state_dir, AVMA_HOSTKEY_CERT);
  if (!avma_write_atomic(path, cert_text, -1, 0644, error)) {
    avma_host_cert_clear(&c);
    return FALSE;
  }
  if (out)
    *out = c;
  else
    avma_host_cert_clear(&c);
  return TRUE;
}

gboolean avma_hostkey_cert(const char *state_dir, AvmaHostCert *out, GError **error) {
  g_autofree char *path = state_file(state_dir, AVMA_HOSTKEY_CERT);
  g_autofree char *text = NULL;
  if (!g_file_get_contents(path, &text, NULL, NULL))
    return FALSE;
  g_autoptr(GError) e = NULL;
  if (avma_keycert_parse(text, out, &e))
    return TRUE;
  g_set_error(error, AVMA_HOSTKEY_ERROR, AVMA_HOSTKEY_ERROR_CERT, "%s: %s", path, e->message);
  return FALSE;
}

GArray *avma_hostkey_known_keys(const char *state_dir, GError **error) {
  GArray *keys = g_array_new(FALSE, TRUE, sizeof(AvmaNoteKey));
  AvmaNoteKey k = {0};
  if (!avma_hostkey_load_public(state_dir, &k.pub, error)) {
    g_array_unref(keys);
    return NULL;
  }
  g_array_append_val(keys, k);
  g_autofree char *dir = g_build_filename(state_dir, AVMA_HOSTKEY_DIR, NULL);
  g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
  const char *n;
  while (d && (n = g_dir_read_name(d))) {
    if (!g_str_has_suffix(n, ".pub"))
      continue;
    g_autofree char *p = g_build_filename(dir, n, NULL);
    AvmaNoteKey old = {0};
    if (avma_public_key_load(p, &old.pub, NULL))
      g_array_append_val(keys, old);
  }
  return keys;
}
