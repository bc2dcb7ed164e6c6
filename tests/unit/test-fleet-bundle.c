/* Unit tests for host-agent/fleet/fleet-bundle: a bundle built here with the daemon's checkpoint
 * text and a real signature parses into typed records and verifies; every cut, reordered,
 * altered or foreign one is refused with its own error code; rotation statements lead from the
 * known key to the new one, and only when signed by it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "checkpoint.h"
#include "fleet-bundle.h"
#include "keycert.h"

#include <json-glib/json-glib.h>
#include <string.h>

#define HOST "0f5c2a8e-3d41-4b7a-9e6f-1c2d3e4f5a6b"

static const char *const bodies[] = {
    "{\"time\":\"2026-11-01T00:00:00Z\",\"event_id\":12313,\"hostname\":\"kvm-07\",\"host_id\":"
    "\"" HOST "\",\"sockets\":2,\"cores_per_socket\":12,\"threads_per_core\":2,\"cpus\":48,"
    "\"source\":\"libvirt\"",
    "{\"time\":\"2026-11-01T00:01:00Z\",\"event_id\":12312,\"vm\":\"web1\",\"vm_uuid\":"
    "\"6B1F0000-9C2E-4D1A-8F3B-000000000001\",\"running\":true,\"reason\":\"started\","
    "\"repaired\":false,\"host_id\":\"" HOST "\"",
    "{\"time\":\"2026-11-01T00:01:05Z\",\"event_id\":12310,\"notification\":\"AVMA Success\","
    "\"vm\":\"web1\",\"guest_version\":\"2022\",\"guest_edition\":\"Standard\","
    "\"granted_until\":\"2026-11-08T00:01:05Z\",\"host_id\":\"" HOST "\"",
    "{\"time\":\"2026-11-02T00:00:00Z\",\"event_id\":12399,\"future_kind\":1",
};

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

/* The bundle of records since+1..4 signed by kp (header naming hdr's key), with rotations. */
static char *bundle(const AvmaKeyPair *kp, const AvmaKeyPair *hdr, guint since,
                    const char *rotation) {
  GString *b = g_string_new(NULL);
  g_autofree char *kid = avma_key_id_hex(hdr->pub.id), *pk = avma_public_key_base64(&hdr->pub);
  g_string_append_printf(b,
                         "{\"format\":\"avma-export v1\",\"host_id\":\"" HOST "\",\"hostname\":"
                         "\"kvm-07\",\"key_id\":\"%s\",\"public_key\":\"%s\",\"since\":%u,"
                         "\"last\":4,\"exported_at\":\"2026-11-02T00:00:00Z\"}\n",
                         kid, pk, since);
  g_autofree char *prev = g_strnfill(64, '0');
  for (guint i = 0; i < G_N_ELEMENTS(bodies); i++) {
    g_autofree char *line =
        g_strdup_printf("%s,\"seq\":%u,\"prev\":\"%s\"}", bodies[i], i + 1, prev);
    if (i + 1 > since)
      g_string_append_printf(b, "%s\n", line);
    g_free(prev);
    prev = avma_sha256_hex(line, strlen(line));
  }
  if (rotation)
    note_line(b, "rotation", rotation);
  AvmaCheckpoint cp = {.seq = 4, .host_id = HOST, .signed_at = 1764633600};
  memcpy(cp.head, prev, sizeof cp.head);
  g_autofree char *text = avma_checkpoint_text(&cp);
  g_autofree char *name = avma_keycert_note_name(AVMA_KEYCERT_HOST, &kp->pub);
  g_autofree char *note = avma_note_sign(text, name, kp, NULL);
  note_line(b, "checkpoint", note);
  return g_string_free(b, FALSE);
}

static AvmaFleetBundle *parse(const char *s, int want_code) {
  g_autoptr(GError) err = NULL;
  AvmaFleetBundle *b = avma_fleet_bundle_parse(s, strlen(s), NULL, &err);
  if (want_code < 0) {
    if (!b)
      fail_msg("parse: %s", err->message);
  } else {
    assert_null(b);
    assert_true(g_error_matches(err, AVMA_FLEET_ERROR, want_code));
  }
  return b;
}

static void good_bundle(void **st) {
  (void)st;
  g_autoptr(AvmaKeyPair) kp = avma_key_pair_generate();
  g_autofree char *s = bundle(kp, kp, 0, NULL);
  g_autoptr(AvmaFleetBundle) b = parse(s, -1);
  assert_string_equal(b->host_id, HOST);
  assert_int_equal(b->records->len, 4);
  const AvmaFleetRecord *r = &g_array_index(b->records, AvmaFleetRecord, 0);
  assert_int_equal(r->sockets, 2);
  assert_int_equal(r->cores_per_socket, 12);
  r = &g_array_index(b->records, AvmaFleetRecord, 1);
  assert_true(r->running);
  assert_string_equal(r->vm_uuid, "6B1F0000-9C2E-4D1A-8F3B-000000000001");
  r = &g_array_index(b->records, AvmaFleetRecord, 2);
  assert_string_equal(r->notification, "AVMA Success");
  assert_int_equal(r->granted_until - r->time, 7 * 86400 - 0);
  r = &g_array_index(b->records, AvmaFleetRecord, 3);
  assert_int_equal(r->event_id, 12399); /* unknown kinds are kept, untyped */
  g_autoptr(GError) err = NULL;
  g_autoptr(GArray) chain = avma_fleet_bundle_key_chain(b, NULL, &err);
  assert_non_null(chain);
  assert_true(avma_fleet_bundle_check_checkpoint(b, (AvmaPublicKey *)(void *)chain->data,
                                                 chain->len, &err));
  assert_int_equal(b->signed_at, 1764633600);
  /* A bundle starting later parses too; its first prev is left for the collector's cursor. */
  g_autofree char *s2 = bundle(kp, kp, 2, NULL);
  g_autoptr(AvmaFleetBundle) b2 = parse(s2, -1);
  assert_int_equal(b2->records->len, 2);
  assert_int_equal(g_array_index(b2->records, AvmaFleetRecord, 0).seq, 3);
}

static void cut_reordered_altered(void **st) {
  (void)st;
  g_autoptr(AvmaKeyPair) kp = avma_key_pair_generate();
  g_autofree char *s = bundle(kp, kp, 0, NULL);
  g_autofree char *cut = g_strndup(s, strlen(s) - 10);
  g_autoptr(AvmaFleetBundle) b1 = parse(cut, AVMA_FLEET_ERROR_TRUNCATED);
  g_auto(GStrv) lines = g_strsplit(s, "\n", -1);
  guint n = g_strv_length(lines); /* header, 4 records, checkpoint, "" */
  assert_int_equal(n, 7);
  g_autofree char *nock =
      g_strjoin("\n", lines[0], lines[1], lines[2], lines[3], lines[4], "", NULL);
  g_autoptr(AvmaFleetBundle) b2 = parse(nock, AVMA_FLEET_ERROR_TRUNCATED);
  g_autofree char *swapped =
      g_strjoin("\n", lines[0], lines[1], lines[3], lines[2], lines[4], lines[5], "", NULL);
  g_autoptr(AvmaFleetBundle) b3 = parse(swapped, AVMA_FLEET_ERROR_MALFORMED);
  g_autofree char *twice =
      g_strjoin("\n", lines[0], lines[1], lines[1], lines[2], lines[3], lines[5], "", NULL);
  g_autoptr(AvmaFleetBundle) b4 = parse(twice, AVMA_FLEET_ERROR_MALFORMED);
  /* An altered record mid-bundle breaks the next record's prev. */
  g_autoptr(GString) mid = g_string_new(s);
  g_string_replace(mid, "\"web1\",\"vm_uuid\"", "\"web2\",\"vm_uuid\"", 1);
  g_autoptr(AvmaFleetBundle) b5 = parse(mid->str, AVMA_FLEET_ERROR_CHAIN);
  /* The last record altered: only the checkpoint's head catches it. */
  g_autoptr(GString) last = g_string_new(s);
  g_string_replace(last, "\"future_kind\":1", "\"future_kind\":2", 1);
  g_autoptr(AvmaFleetBundle) b6 = parse(last->str, -1);
  g_autoptr(GError) err = NULL;
  assert_false(avma_fleet_bundle_check_checkpoint(b6, &kp->pub, 1, &err));
  assert_true(g_error_matches(err, AVMA_FLEET_ERROR, AVMA_FLEET_ERROR_SIGNATURE));
  g_autoptr(AvmaFleetBundle) b7 =
      parse("{\"format\":\"avma-export v2\"}\n", AVMA_FLEET_ERROR_MALFORMED);
  g_autoptr(AvmaFleetBundle) b8 = parse("", AVMA_FLEET_ERROR_TRUNCATED);
}

static void keys(void **st) {
  (void)st;
  g_autoptr(AvmaKeyPair) old = avma_key_pair_generate();
  g_autoptr(AvmaKeyPair) fresh = avma_key_pair_generate();
  g_autoptr(AvmaKeyPair) thief = avma_key_pair_generate();
  /* Signed by a key other than the header's: the checkpoint does not verify with it. */
  g_autofree char *forged = bundle(thief, old, 0, NULL);
  g_autoptr(AvmaFleetBundle) bf = parse(forged, -1);
  g_autoptr(GError) e1 = NULL;
  assert_false(avma_fleet_bundle_check_checkpoint(bf, &old->pub, 1, &e1));
  assert_true(g_error_matches(e1, AVMA_FLEET_ERROR, AVMA_FLEET_ERROR_SIGNATURE));
  /* A new key without a statement is not reachable from the known one. */
  g_autofree char *plain = bundle(fresh, fresh, 0, NULL);
  g_autoptr(AvmaFleetBundle) bp = parse(plain, -1);
  g_autoptr(GError) e2 = NULL;
  assert_null(avma_fleet_bundle_key_chain(bp, &old->pub, &e2));
  assert_true(g_error_matches(e2, AVMA_FLEET_ERROR, AVMA_FLEET_ERROR_KEY));
  /* With the old key's rotation statement it is. */
  g_autofree char *stmt = avma_keycert_rotation(old, fresh, 1764633000);
  g_autofree char *rotated = bundle(fresh, fresh, 0, stmt);
  g_autoptr(AvmaFleetBundle) br = parse(rotated, -1);
  g_autoptr(GError) e3 = NULL;
  g_autoptr(GArray) chain = avma_fleet_bundle_key_chain(br, &old->pub, &e3);
  assert_non_null(chain);
  assert_int_equal(chain->len, 2);
  /* The thief's statement (signed by the thief, not by the known key) leads nowhere. */
  g_autofree char *fake = avma_keycert_rotation(thief, fresh, 1764633000);
  g_autofree char *stolen = bundle(fresh, fresh, 0, fake);
  g_autoptr(AvmaFleetBundle) bs = parse(stolen, -1);
  g_autoptr(GError) e4 = NULL;
  assert_null(avma_fleet_bundle_key_chain(bs, &old->pub, &e4));
  /* A root's certificate of the header's key for this host. */
  g_autoptr(AvmaKeyPair) root = avma_key_pair_generate();
  g_autofree char *cert = avma_keycert_certify(root, &fresh->pub, HOST, 1764633000, NULL);
  g_autoptr(GString) withcert = g_string_new(plain);
  g_autoptr(GString) cl = g_string_new(NULL);
  note_line(cl, "cert", cert);
  const char *ck = strstr(withcert->str, "{\"checkpoint\"");
  g_string_insert(withcert, ck - withcert->str, cl->str);
  g_autoptr(AvmaFleetBundle) bc = parse(withcert->str, -1);
  assert_true(avma_fleet_bundle_certified(bc, &root->pub, NULL));
  g_autoptr(GError) e5 = NULL;
  assert_false(avma_fleet_bundle_certified(bc, &thief->pub, &e5));
  assert_true(g_error_matches(e5, AVMA_FLEET_ERROR, AVMA_FLEET_ERROR_KEY));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(good_bundle),
      cmocka_unit_test(cut_reordered_altered),
      cmocka_unit_test(keys),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
