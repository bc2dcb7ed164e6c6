/* agent: the guest agent's decisions on its state, shared by the Linux and the Windows agent. */
#include "agent.h"

#include "rfc3339.h"

#include <stdio.h>
#include <string.h>

/* Copy text into a fixed field, cut at a character boundary and terminal-safe. */
static void set_field(char *dst, size_t cap, const char *v) {
  if (!v)
    v = "";
  avma_text_sanitize(v, strlen(v), dst, cap);
}
#define SET(field, v) set_field(field, sizeof field, v)

/* Format into out through a large buffer, then cut safely: snprintf alone may split a
 * character. */
static void say(char *out, size_t cap, const char *text) {
  if (out && cap)
    avma_text_sanitize(text, strlen(text), out, cap);
}

AvmaProduct avma_agent_product(const AvmaGState *s, const AvmaProduct *image) {
  AvmaProduct p = {.version = s->key_version, .edition = s->key_edition};
  if (image && image->version)
    p.version = image->version;
  if (image && image->edition)
    p.edition = image->edition;
  return p;
}

bool avma_agent_activate_request(const AvmaGState *s, const AvmaProduct *image, AvmaRecs *req) {
  AvmaProduct p = avma_agent_product(s, image);
  if (!avma_recs_add(req, AVMA_KEY_AvmaKey, s->key))
    return false;
  if (p.version && !avma_recs_add(req, AVMA_KEY_AvmaProductVersion, avma_version_name(p.version)))
    return false;
  if (p.edition && !avma_recs_add(req, AVMA_KEY_AvmaProductEdition, avma_edition_name(p.edition)))
    return false;
  return true;
}

void avma_agent_apply_result(AvmaGState *s, AvmaSchedule *sched, const AvmaTiming *t,
                             const AvmaXchgResult *r, int64_t now) {
  s->last_attempt = now;
  SET(s->last_notification, avma_notification_name(r->notification));
  SET(s->last_reason, r->reason);
  if (r->has_host_items) {
    SET(s->host_name, avma_recs_get(&r->host_items, AVMA_KEY_HostName));
    SET(s->vm_name, avma_recs_get(&r->host_items, AVMA_KEY_VirtualMachineName));
    SET(s->vm_id, avma_recs_get(&r->host_items, AVMA_KEY_VirtualMachineId));
  }
  if (r->has_reply) {
    SET(s->host_id, avma_recs_get(&r->reply, AVMA_KEY_AvmaHostId));
    SET(s->host_version, avma_recs_get(&r->reply, AVMA_KEY_AvmaHostVersion));
  }
  if (r->notification != AVMA_NOTIFY_SUCCESS) {
    s->failures++;
    avma_schedule_failure(sched, t, now);
    return;
  }
  /* Validity is the host's grant measured on the host's clock, applied to ours: a skewed guest
   * clock neither shortens nor stretches it. */
  int64_t until = 0, at = 0, validity = 0;
  const char *u = avma_recs_get(&r->reply, AVMA_KEY_AvmaGrantedUntil);
  const char *a = avma_recs_get(&r->reply, AVMA_KEY_AvmaActivationTime);
  if (u && a && avma_rfc3339_parse(u, &until) && avma_rfc3339_parse(a, &at) && until > at)
    validity = until - at;
  s->licensed = validity > 0;
  s->granted_until = now + validity;
  s->last_success = now;
  s->published = true;
  s->failures = 0;
  avma_schedule_success(sched, t, now, s->granted_until);
}

static void set_key(AvmaGState *s, const char *norm, const AvmaCatalogueEntry *e) {
  SET(s->key, norm);
  s->key_is_avma = e != NULL;
  s->key_version = e ? e->version : AVMA_VERSION_UNKNOWN;
  s->key_edition = e ? e->edition : AVMA_EDITION_UNKNOWN;
  s->licensed = false;
  s->granted_until = 0;
}

bool avma_agent_install_key(AvmaGState *s, AvmaSchedule *sched, const AvmaProduct *image,
                            const char *key, int64_t now, bool *activate, char *message,
                            size_t message_len, char *why, size_t why_len) {
  char norm[64], text[640];
  *activate = false;
  if (!key)
    key = "";
  if (!avma_key_normalise(key, norm, sizeof norm) || !avma_key_syntax_valid(norm)) {
    char shown[96]; /* the user's text, cut and made safe to print */
    avma_text_sanitize(key, strlen(key), shown, sizeof shown);
    snprintf(text, sizeof text,
             "'%s' is not a product key: expected five groups of five characters like "
             "XXXXX-XXXXX-XXXXX-XXXXX-XXXXX",
             shown);
    say(why, why_len, text);
    return false;
  }
  const AvmaCatalogueEntry *e = avma_catalogue_lookup(norm);
  AvmaVersion iv = image ? image->version : AVMA_VERSION_UNKNOWN;
  AvmaEdition ie = image ? image->edition : AVMA_EDITION_UNKNOWN;
  if (e && ((iv && iv != e->version) || (ie && ie != e->edition))) {
    AvmaVersion v = iv ? iv : e->version;
    AvmaEdition ed = ie ? ie : e->edition;
    const AvmaCatalogueEntry *right = avma_catalogue_find(v, ed);
    snprintf(text, sizeof text, "key %s is for %s %s, but this image is %s %s%s%s", norm,
             avma_version_display(e->version), avma_edition_display(e->edition),
             avma_version_display(v), avma_edition_display(ed),
             right ? ": its AVMA key is " : " (no AVMA key exists for it)",
             right ? right->key : "");
    say(why, why_len, text);
    return false;
  }
  bool was_published = s->published || s->pending_clear;
  set_key(s, norm, e);
  s->key_installed_at = now;
  s->failures = 0;
  if (e) {
    *activate = true;
    snprintf(text, sizeof text, "Installed AVMA key for %s %s (partial key %s).",
             avma_version_display(e->version), avma_edition_display(e->edition), norm + 24);
  } else {
    /* As in Windows, another product key replaces the AVMA key: AVMA stops and the KVP data it
     * published must go (brief section 7). */
    s->pending_clear = was_published;
    avma_schedule_idle(sched);
    snprintf(text, sizeof text,
             "Installed product key %s, which is not an AVMA key: AVMA activation stops%s.",
             norm + 24, s->pending_clear ? " and its KVP data is removed from the host" : "");
  }
  say(message, message_len, text);
  return true;
}

void avma_agent_uninstall_key(AvmaGState *s, AvmaSchedule *sched, char *message,
                              size_t message_len) {
  if (!*s->key) {
    say(message, message_len, "No product key was installed.");
    return;
  }
  bool was_published = s->published || s->pending_clear;
  set_key(s, "", NULL);
  s->pending_clear = was_published;
  avma_schedule_idle(sched);
  say(message, message_len,
      s->pending_clear ? "Product key uninstalled; its KVP data is removed from the host."
                       : "Product key uninstalled.");
}

void avma_agent_clear_done(AvmaGState *s, AvmaSchedule *sched, const AvmaTiming *t, bool ok,
                           int64_t now) {
  if (!ok) {
    avma_schedule_failure(sched, t, now);
    return;
  }
  s->pending_clear = false;
  s->published = false;
  if (!s->key_is_avma)
    avma_schedule_idle(sched);
}

bool avma_agent_expire(AvmaGState *s, AvmaSchedule *sched, int64_t now, AvmaNotification *n,
                       char *reason, size_t reason_len) {
  if (!avma_schedule_expire(sched, now))
    return false;
  s->licensed = false;
  char at[AVMA_RFC3339_LEN], text[1024];
  avma_rfc3339_format(s->granted_until, at);
  snprintf(text, sizeof text,
           "licence validity ended at %s without a renewal; last attempt: %s (%s)", at,
           *s->last_notification ? s->last_notification : "none", s->last_reason);
  say(reason, reason_len, text);
  /* The event names what went wrong with the last attempt; a lapse after a success means the
   * host stopped answering. */
  *n = AVMA_NOTIFY_INVALID_HOST;
  if (!avma_notification_parse(s->last_notification, n) || *n == AVMA_NOTIFY_SUCCESS)
    *n = AVMA_NOTIFY_INVALID_HOST;
  return true;
}

const char *avma_agent_cannot_activate(const AvmaGState *s) {
  if (!*s->key)
    return "no key installed: run avma-guest ipk KEY";
  if (!s->key_is_avma)
    return "the installed key is not an AVMA key";
  return NULL;
}
