/* fuzz-signed: what avma-verify (and a guest checking a receipt) reads from a party it does not
 * trust: public keys in their text forms, C2SP signed notes, minisign signatures, certificates and
 * rotation statements (common/sign.c, common/keycert.c). The first byte picks the parser. Keys are
 * fixed (seed bytes 0x01 and 0x02), so the seeds in corpus/signed verify and mutations reach
 * every check after the signature. */
#include "fuzz-glib.h"

#include "keycert.h"

static AvmaKeyPair *host, *root;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  fuzz_glib_init();
  guint8 seed[AVMA_SIGN_SEED_BYTES];
  memset(seed, 1, sizeof seed);
  host = avma_key_pair_from_seed(seed, NULL);
  memset(seed, 2, sizeof seed);
  root = avma_key_pair_from_seed(seed, NULL);
  return 0;
}

static void note(const char *s, size_t n) {
  g_autofree char *name = avma_keycert_note_name(AVMA_KEYCERT_HOST, &host->pub);
  AvmaNoteKey keys[] = {{.name = name, .pub = host->pub}, {.name = NULL, .pub = root->pub}};
  g_autofree char *text = NULL, *signer = NULL;
  g_autoptr(GError) err = NULL;
  if (avma_note_open(s, keys, G_N_ELEMENTS(keys), &text, &signer, &err)) {
    /* What verified is the note's own beginning, a whole text ending in a newline. */
    check(strlen(text) < n && strncmp(text, s, strlen(text)) == 0);
    check(text[strlen(text) - 1] == '\n');
    check(signer && *signer);
  } else {
    check(err && err->domain == AVMA_SIGN_ERROR);
  }
}

static void minisig(const char *s, size_t n) {
  /* data, a NUL, then the signature text */
  size_t dlen = strnlen(s, n);
  const char *sig = dlen < n ? s + dlen + 1 : "";
  g_autofree char *tc = NULL;
  g_autoptr(GError) err = NULL;
  if (avma_minisig_verify(&host->pub, s, dlen, sig, &tc, &err))
    check(tc && !strchr(tc, '\n'));
  else
    check(err && err->domain == AVMA_SIGN_ERROR);
}

static void cert(const char *s) {
  AvmaHostCert c = {0}, p = {0};
  if (avma_keycert_verify(s, &root->pub, &c, NULL)) {
    /* A verified certificate parses to the same thing. */
    check(avma_keycert_parse(s, &p, NULL));
    check(avma_public_key_equal(&c.pub, &p.pub) && !strcmp(c.host, p.host));
  }
  avma_host_cert_clear(&c);
  avma_host_cert_clear(&p);
  if (avma_keycert_parse(s, &p, NULL))
    check(p.host != NULL && p.root_id != NULL);
  avma_host_cert_clear(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  /* The parsers take C strings: the text stops at the first NUL except for minisig's split. */
  g_autofree char *s = g_strndup((const char *)data + 1, size - 1);
  size_t n = size - 1;
  AvmaPublicKey pub;
  AvmaKeyRotation r;
  switch (data[0] % 5) {
  case 0:
    if (avma_public_key_parse(s, &pub, NULL)) {
      g_autofree char *line = avma_public_key_minisign_line(&pub);
      AvmaPublicKey again;
      check(avma_public_key_parse(line, &again, NULL) && avma_public_key_equal(&pub, &again));
    }
    break;
  case 1:
    note(s, strlen(s));
    break;
  case 2: {
    g_autofree char *raw = g_malloc(n + 1);
    memcpy(raw, data + 1, n);
    raw[n] = '\0';
    minisig(raw, n);
    break;
  }
  case 3:
    cert(s);
    break;
  case 4:
    if (avma_keycert_verify_rotation(s, &host->pub, &r, NULL))
      check(!memcmp(r.old_key.pk, host->pub.pk, sizeof r.old_key.pk));
    break;
  }
  return 0;
}
