/* bundle-gen: writes synthetic hosts' record logs and export bundles for the fleet collector's
 * tests, bench and demo, until real avma-host export bundles are at hand. The logs are written by
 * the daemon's own chain log (host-agent/chainlog.c), the checkpoints' text by checkpoint.c and
 * every signature by common/sign.c and keycert.c, so hashes and signatures are real. Everything
 * is derived from --seed and --key-seed: two runs with the same options write the same bytes.
 *   bundle-gen --out DIR [--hosts H] [--vms V] [--start T] [--days D] [--bundles K]
 *              [--seed S] [--key-seed S] [--migrate-pct P] [--rotate-after B] [--root-seed S]
 *              [--clock-offset SECONDS] [--product-per-host]
 * Writes DIR/hNNNN/events.jsonl and DIR/hNNNN/bundle-K.jsonl (K = 1.., consecutive, each ending
 * with a checkpoint), and DIR/root.pub with --root-seed. Prints the number of records written. */
#include "chainlog.h"
#include "checkpoint.h"
#include "keycert.h"
#include "sign.h"
#include "timeutil.h"

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAY 86400
#define WEEK (7 * DAY)

typedef struct {
  char *out;
  int hosts, vms, days, bundles, migrate_pct, rotate_after;
  gboolean product_per_host;
  gint64 start, clock_offset;
  char *seed, *key_seed, *root_seed;
} Opts;

typedef struct {
  gint64 time;
  guint order;
  char *text; /* the record without its chain members */
} Ev;

static AvmaKeyPair *derived_key(const char *what, const char *seed, int h, int gen) {
  g_autofree char *s = g_strdup_printf("bundle-gen %s %s %d %d", what, seed, h, gen);
  guint8 d[AVMA_SHA256_BYTES];
  avma_sha256(s, strlen(s), d);
  AvmaKeyPair *kp = avma_key_pair_from_seed(d, NULL);
  return kp;
}

static char *host_uuid(const char *seed, int h) {
  g_autofree char *s = g_strdup_printf("bundle-gen host %s %d", seed, h);
  g_autofree char *x = avma_sha256_hex(s, strlen(s));
  return g_strdup_printf("%.8s-%.4s-4%.3s-8%.3s-%.12s", x, x + 8, x + 12, x + 15, x + 18);
}

static const char *const versions[] = {"2022", "2019", "2016"};
static const char *const editions[] = {"Datacenter", "Standard"};

static void add(GArray *evs, gint64 t, char *text) {
  Ev e = {t, evs->len, text};
  g_array_append_val(evs, e);
}

static char *ts(gint64 t) {
  return avma_time_format(t);
}

/* The guest's product: its own, or with shift (--product-per-host) another on each host, as if a
 * migrated VM were given another key by its new host's tenant. */
static char *decision(gint64 t, int g, int shift, const char *host_id, gboolean denied) {
  g_autofree char *at = ts(t), *until = ts(t + WEEK);
  const char *ver = denied ? "2025" : versions[(g + shift) % 3], *ed = editions[g % 2];
  return g_strdup_printf(
      "{\"time\":\"%s\",\"event_id\":12310,\"notification\":\"%s\",\"reason\":\"%s\","
      "\"reason_code\":\"%s\",\"vm\":\"tenant-vm-%06d\",\"vm_uuid\":\"6b1f%04x-9c2e-4d1a-8f3b-%"
      "012x\","
      "\"guest_version\":\"%s\",\"guest_edition\":\"%s\",\"declared_version\":\"\","
      "\"declared_edition\":\"\",\"key_last5\":\"78VHK\",\"host_version\":\"2022\","
      "\"host_edition\":\"Datacenter\",\"host_activated\":true,\"host_id\":\"%s\","
      "\"granted_until\":\"%s\"}",
      at, denied ? "Activation Denied" : "AVMA Success",
      denied ? "guest version newer than the host's" : "activated", denied ? "version" : "ok", g,
      g & 0xffff, g, ver, ed, host_id, denied ? "" : until);
}

static char *run_edge(gint64 t, int g, gboolean running, const char *reason, const char *host_id) {
  g_autofree char *at = ts(t);
  return g_strdup_printf("{\"time\":\"%s\",\"event_id\":12312,\"vm\":\"tenant-vm-%06d\","
                         "\"vm_uuid\":\"6b1f%04x-9c2e-4d1a-8f3b-%012x\",\"running\":%s,"
                         "\"reason\":\"%s\",\"repaired\":false,\"host_id\":\"%s\"}",
                         at, g, g & 0xffff, g, running ? "true" : "false", reason, host_id);
}

/* The week a VM migrates in (to the next host), or -1: P % of the VMs each week. */
static int migrates_in(const Opts *o, int g, int weeks) {
  for (int w = 0; w < weeks; w++)
    if (o->migrate_pct > 0 && (guint)(g * 7919 + w * 104729) % 100 < (guint)o->migrate_pct &&
        o->hosts > 1)
      return w;
  return -1;
}

/* One VM's life on host h: its runs and renewals (daily), as far as they happen on h. */
static void vm_events(const Opts *o, GArray *evs, int h, int g, const char *host_id) {
  int weeks = (o->days + 6) / 7;
  int home = g / o->vms, w = migrates_in(o, g, weeks);
  gint64 end = o->start + (gint64)o->days * DAY;
  gint64 begin = o->start + 60 + (g % o->vms) * 7;
  gint64 mig = w >= 0 ? o->start + (gint64)w * WEEK + 3600 * (g % 24) + 1000 : G_MAXINT64;
  gint64 stop = g % 37 == 3 ? o->start + 10 * DAY + 500 : G_MAXINT64;
  int dest = (home + 1) % o->hosts;
  if (mig >= end || mig >= stop)
    mig = G_MAXINT64;
  gboolean on_home = h == home, on_dest = h == dest && mig != G_MAXINT64;
  if (!on_home && !on_dest)
    return;
  /* A live migration overlaps: the destination runs before the source stops. */
  gint64 from = on_home ? begin : mig;
  gint64 to = on_home ? MIN(mig == G_MAXINT64 ? mig : mig + 30, stop) : stop;
  add(evs, from, run_edge(from, g, TRUE, "started", host_id));
  for (gint64 t = begin + 5; t < end && t < stop; t += DAY)
    if ((on_home && t < mig) || (on_dest && !on_home && t >= mig))
      add(evs, t, decision(t, g, o->product_per_host ? h : 0, host_id, FALSE));
  if (on_home && g % 50 == 7)
    add(evs, o->start + 2 * DAY + 100, decision(o->start + 2 * DAY + 100, g, 0, host_id, TRUE));
  if (to < end)
    add(evs, to, run_edge(to, g, FALSE, to == stop ? "shutdown" : "migrated", host_id));
}

static void host_events(const Opts *o, GArray *evs, int h, const char *host_id) {
  g_autofree char *at = ts(o->start), *later = ts(o->start + 3 * DAY);
  g_autofree char *name = g_strdup_printf("fleet-host-%04d", h);
  add(evs, o->start,
      g_strdup_printf("{\"time\":\"%s\",\"event_id\":12314,\"what\":\"agent-start\","
                      "\"detail\":\"bundle-gen\",\"host_id\":\"%s\"}",
                      at, host_id));
  int sockets = 1 + h % 2, cores = 6 + 2 * (h % 5);
  add(evs, o->start,
      g_strdup_printf("{\"time\":\"%s\",\"event_id\":12313,\"hostname\":\"%s\",\"host_id\":\"%s\","
                      "\"sockets\":%d,\"cores_per_socket\":%d,\"threads_per_core\":2,\"cpus\":%d,"
                      "\"source\":\"libvirt\"}",
                      at, name, host_id, sockets, cores, sockets * cores * 2));
  /* Every tenth host was activated only on the third day. */
  gboolean late = h % 10 == 9;
#define LIC                                                                                        \
  "{\"time\":\"%s\",\"event_id\":12311,\"set\":true,\"version\":\"2022\","                         \
  "\"edition\":\"Datacenter\",\"activated\":%s,\"key_last5\":\"DV9BG\","                           \
  "\"set_at\":\"%s\",\"set_by\":\"root\",\"activates_guests\":%s,"                                 \
  "\"host_id\":\"%s\"}"
  add(evs, o->start,
      g_strdup_printf(LIC, at, late ? "false" : "true", at, late ? "false" : "true", host_id));
  if (late)
    add(evs, o->start + 3 * DAY, g_strdup_printf(LIC, later, "true", later, "true", host_id));
  int first = h * o->vms - o->vms;
  for (int g = MAX(first, 0); g < (h + 1) * o->vms; g++)
    vm_events(o, evs, h, g, host_id);
  if (h == 0 && o->hosts > 1)
    for (int g = (o->hosts - 1) * o->vms; g < o->hosts * o->vms; g++)
      vm_events(o, evs, h, g, host_id);
}

static int by_time(gconstpointer a, gconstpointer b) {
  const Ev *x = a, *y = b;
  return x->time != y->time ? (x->time < y->time ? -1 : 1) : (int)x->order - (int)y->order;
}

static void die(const char *what, GError *err) {
  fprintf(stderr, "bundle-gen: %s: %s\n", what, err ? err->message : "failed");
  exit(1);
}

/* {"member":"value"} with JSON's escapes (the notes hold newlines and an em dash). */
static void note_line(GString *b, const char *member, const char *value) {
  g_autoptr(JsonBuilder) jb = json_builder_new();
  json_builder_begin_object(jb);
  json_builder_set_member_name(jb, member);
  json_builder_add_string_value(jb, value);
  json_builder_end_object(jb);
  g_autoptr(JsonNode) n = json_builder_get_root(jb);
  g_autofree char *s = json_to_string(n, FALSE);
  g_string_append_printf(b, "%s\n", s);
}

static void write_bundle(const Opts *o, const char *dir, int k, const char *host_id,
                         const char *name, const AvmaKeyPair *kp, GPtrArray *lines, guint from,
                         guint to, gint64 signed_at, GPtrArray *rotations, const char *cert) {
  g_autoptr(GString) b = g_string_new(NULL);
  g_autofree char *kid = avma_key_id_hex(kp->pub.id), *pk = avma_public_key_base64(&kp->pub);
  g_autofree char *at = ts(signed_at + 60);
  g_string_append_printf(b,
                         "{\"format\":\"avma-export v1\",\"host_id\":\"%s\",\"hostname\":\"%s\","
                         "\"key_id\":\"%s\",\"public_key\":\"%s\",\"since\":%u,\"last\":%u,"
                         "\"exported_at\":\"%s\"}\n",
                         host_id, name, kid, pk, from, to, at);
  for (guint i = from; i < to; i++)
    g_string_append_printf(b, "%s\n", (char *)lines->pdata[i]);
  for (guint i = 0; i < rotations->len; i++)
    note_line(b, "rotation", rotations->pdata[i]);
  if (cert)
    note_line(b, "cert", cert);
  if (to == 0) {
    g_string_append(b, "{\"checkpoint\":null}\n");
  } else {
    AvmaCheckpoint cp = {.seq = to, .host_id = (char *)host_id, .signed_at = signed_at};
    const char *last = lines->pdata[to - 1];
    avma_chain_hash_hex(last, strlen(last), cp.head);
    g_autofree char *text = avma_checkpoint_text(&cp);
    g_autofree char *nname = avma_keycert_note_name(AVMA_KEYCERT_HOST, &kp->pub);
    g_autoptr(GError) err = NULL;
    g_autofree char *note = avma_note_sign(text, nname, kp, &err);
    if (!note)
      die("sign", err);
    note_line(b, "checkpoint", note);
  }
  g_autofree char *path = g_strdup_printf("%s/bundle-%d.jsonl", dir, k);
  g_autoptr(GError) err = NULL;
  if (!g_file_set_contents(path, b->str, (gssize)b->len, &err))
    die(path, err);
  (void)o;
}

static guint64 one_host(const Opts *o, int h, const AvmaKeyPair *root) {
  g_autofree char *host_id = host_uuid(o->seed, h);
  g_autofree char *name = g_strdup_printf("fleet-host-%04d", h);
  g_autofree char *dir = g_strdup_printf("%s/h%04d", o->out, h);
  g_mkdir_with_parents(dir, 0755);
  g_autofree char *log_path = g_build_filename(dir, "events.jsonl", NULL);
  g_unlink(log_path);
  GArray *evs = g_array_new(FALSE, FALSE, sizeof(Ev));
  host_events(o, evs, h, host_id);
  g_array_sort(evs, by_time);
  g_autoptr(GError) err = NULL;
  g_autoptr(GPtrArray) lines = g_ptr_array_new_with_free_func(g_free);
  {
    g_autoptr(AvmaChainLog) log = avma_chain_log_open(log_path, NULL, &err);
    if (!log)
      die(log_path, err);
    for (guint i = 0; i < evs->len; i++) {
      Ev *e = &g_array_index(evs, Ev, i);
      /* A host with its clock ahead writes every time shifted. */
      if (o->clock_offset) {
        g_autofree char *good = ts(e->time), *bad = ts(e->time + o->clock_offset);
        g_auto(GStrv) parts = g_strsplit(e->text, good, -1);
        char *t = g_strjoinv(bad, parts);
        g_free(e->text);
        e->text = t;
      }
      if (!avma_chain_log_append(log, e->text, NULL, &err))
        die("append", err);
      g_free(e->text);
    }
    if (!avma_chain_log_sync(log, &err))
      die("sync", err);
  }
  /* The lines as the log holds them, byte for byte. */
  g_autofree char *data = NULL;
  if (!g_file_get_contents(log_path, &data, NULL, &err))
    die(log_path, err);
  g_auto(GStrv) split = g_strsplit(data, "\n", -1);
  for (char **l = split; *l; l++)
    if (**l)
      g_ptr_array_add(lines, g_strdup(*l));
  g_autoptr(AvmaKeyPair) kp = derived_key("key", o->key_seed, h, 0);
  g_autoptr(GPtrArray) rotations = g_ptr_array_new_with_free_func(g_free);
  guint n = lines->len;
  for (int k = 1; k <= o->bundles; k++) {
    guint from = (guint)((guint64)n * (guint)(k - 1) / (guint)o->bundles);
    guint to = (guint)((guint64)n * (guint)k / (guint)o->bundles);
    if (o->rotate_after > 0 && k == o->rotate_after + 1) {
      g_autoptr(AvmaKeyPair) next = derived_key("key", o->key_seed, h, k);
      gint64 at = g_array_index(evs, Ev, from ? from - 1 : 0).time + o->clock_offset;
      g_ptr_array_add(rotations, avma_keycert_rotation(kp, next, at));
      avma_key_pair_free(g_steal_pointer(&kp));
      kp = g_steal_pointer(&next);
    }
    g_autofree char *cert = NULL;
    if (root && !(cert = avma_keycert_certify(root, &kp->pub, host_id, o->start, &err)))
      die("certify", err);
    gint64 signed_at = to ? g_array_index(evs, Ev, to - 1).time + o->clock_offset + 1 : o->start;
    write_bundle(o, dir, k, host_id, name, kp, lines, from, to, signed_at, rotations, cert);
  }
  g_array_unref(evs);
  return n;
}

int main(int argc, char **argv) {
  Opts o = {.hosts = 3, .vms = 4, .days = 30, .bundles = 1, .migrate_pct = 1};
  g_autofree char *start = NULL;
  GOptionEntry e[] = {
      {"out", 0, 0, G_OPTION_ARG_FILENAME, &o.out, "Output directory", "DIR"},
      {"hosts", 0, 0, G_OPTION_ARG_INT, &o.hosts, "Hosts", "H"},
      {"vms", 0, 0, G_OPTION_ARG_INT, &o.vms, "VMs per host", "V"},
      {"start", 0, 0, G_OPTION_ARG_STRING, &start, "Start time (RFC 3339)", "T"},
      {"days", 0, 0, G_OPTION_ARG_INT, &o.days, "Days simulated", "D"},
      {"bundles", 0, 0, G_OPTION_ARG_INT, &o.bundles, "Bundles per host", "K"},
      {"seed", 0, 0, G_OPTION_ARG_STRING, &o.seed, "Seed of host ids", "S"},
      {"key-seed", 0, 0, G_OPTION_ARG_STRING, &o.key_seed, "Seed of host keys", "S"},
      {"migrate-pct", 0, 0, G_OPTION_ARG_INT, &o.migrate_pct, "VMs migrating each week, %", "P"},
      {"rotate-after", 0, 0, G_OPTION_ARG_INT, &o.rotate_after, "Rotate keys after bundle B", "B"},
      {"root-seed", 0, 0, G_OPTION_ARG_STRING, &o.root_seed, "Certify keys by a root", "S"},
      {"clock-offset", 0, 0, G_OPTION_ARG_INT64, &o.clock_offset, "Host clock error", "SECONDS"},
      {"product-per-host", 0, 0, G_OPTION_ARG_NONE, &o.product_per_host,
       "A VM's product depends on the host too", NULL},
      {NULL}};
  g_autoptr(GOptionContext) ctx = g_option_context_new("- write synthetic export bundles");
  g_option_context_add_main_entries(ctx, e, NULL);
  g_autoptr(GError) err = NULL;
  if (!g_option_context_parse(ctx, &argc, &argv, &err) || !o.out || o.hosts < 1 || o.vms < 1 ||
      o.days < 1 || o.bundles < 1) {
    fprintf(stderr, "bundle-gen: %s\n", err ? err->message : "--out DIR and positive sizes needed");
    return 2;
  }
  if (!o.seed)
    o.seed = g_strdup("fleet");
  if (!o.key_seed)
    o.key_seed = g_strdup(o.seed);
  if (!avma_time_parse(start ? start : "2026-11-01T00:00:00Z", &o.start))
    return fprintf(stderr, "bundle-gen: bad --start\n"), 2;
  g_mkdir_with_parents(o.out, 0755);
  g_autoptr(AvmaKeyPair) root = o.root_seed ? derived_key("root", o.root_seed, 0, 0) : NULL;
  if (root) {
    g_autofree char *pub = avma_public_key_minisign_file(&root->pub);
    g_autofree char *path = g_build_filename(o.out, "root.pub", NULL);
    if (!g_file_set_contents(path, pub, -1, &err))
      die(path, err);
  }
  guint64 total = 0;
  for (int h = 0; h < o.hosts; h++)
    total += one_host(&o, h, root);
  printf("%" G_GUINT64_FORMAT "\n", total);
  return 0;
}
