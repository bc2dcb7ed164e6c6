/* guest-config: avma-guestd / avma-guest settings. */
#include "guest-config.h"

#include <gio/gio.h>
#include <stddef.h>

static gboolean parse_journal(const char *text, void *field) {
  return avma_journal_mode_parse(text, field);
}
/* Empty: the installed key decides. */
static gboolean parse_version(const char *text, void *field) {
  *(AvmaVersion *)field = AVMA_VERSION_UNKNOWN;
  return !*text || avma_version_parse(text, field);
}
static gboolean parse_edition(const char *text, void *field) {
  *(AvmaEdition *)field = AVMA_EDITION_UNKNOWN;
  return !*text || avma_edition_parse(text, field);
}

#define F(member) offsetof(AvmaGuestConfig, member)
#define TEN_YEARS (10LL * 365 * 86400)
/* Every setting of guest.conf; avma-guest.conf(5) documents each with its range and default
 * (make check: settings-docs). The timing defaults are the portable core's
 * (avma_timing_defaults), which the Windows agent uses: test-settings checks they agree. */
static const AvmaSetting settings[] = {
    {"guest", "state_dir", AVMA_SETTING_STRING, .def = AVMA_GUEST_DEFAULT_STATE,
     .doc = "State directory: installed key, activation state, event history",
     .offset = F(state_dir)},
    {"guest", "port", AVMA_SETTING_STRING, .def = AVMA_GUEST_DEFAULT_PORT,
     .doc = "The virtio-serial port of the AVMA channel", .offset = F(port)},
    {"guest", "product_version", AVMA_SETTING_CHOICE, .def = "",
     .choices = "2012R2|2016|2019|2022|2025", .doc = "The version this guest declares",
     .offset = F(product_version), .parse = parse_version},
    {"guest", "product_edition", AVMA_SETTING_CHOICE, .def = "",
     .choices = "Datacenter|DatacenterAzure|Standard|Essentials",
     .doc = "The edition this guest declares", .offset = F(product_edition),
     .parse = parse_edition},
    {"guest", "journal", AVMA_SETTING_CHOICE, .def = "auto", .choices = "auto|yes|no",
     .doc = "Send events to the systemd journal too", .offset = F(journal), .parse = parse_journal},
    {"timing", "request_timeout", AVMA_SETTING_INT, 1, TEN_YEARS, "10", .unit = "seconds",
     .doc = "How long to wait for the host's answer", .offset = F(timing.request_timeout),
     .store = AVMA_STORE_I64},
    {"timing", "renew_interval", AVMA_SETTING_INT, 1, TEN_YEARS, "86400", .unit = "seconds",
     .doc = "Time between renewals while activated", .offset = F(timing.renew_interval),
     .store = AVMA_STORE_I64},
    {"timing", "retry_initial", AVMA_SETTING_INT, 1, TEN_YEARS, "60", .unit = "seconds",
     .doc = "First retry after a failed attempt", .offset = F(timing.retry_initial),
     .store = AVMA_STORE_I64},
    {"timing", "retry_max", AVMA_SETTING_INT, 1, TEN_YEARS, "7200", .unit = "seconds",
     .doc = "Cap of the back-off between retries", .offset = F(timing.retry_max),
     .store = AVMA_STORE_I64},
    {"timing", "presence_interval", AVMA_SETTING_INT, 1, TEN_YEARS, "2", .unit = "seconds",
     .doc = "How often to check whether the host side is connected",
     .offset = F(timing.presence_interval), .store = AVMA_STORE_I64},
};

const AvmaSetting *avma_guest_settings(size_t *n) {
  *n = G_N_ELEMENTS(settings);
  return settings;
}

void avma_guest_config_free(AvmaGuestConfig *c) {
  if (!c)
    return;
  avma_settings_clear(settings, G_N_ELEMENTS(settings), c);
  g_free(c);
}

AvmaGuestConfig *avma_guest_config_load(const char *config_path, const char *state_dir,
                                        const char *port, GError **error) {
  g_autoptr(AvmaGuestConfig) c = g_new0(AvmaGuestConfig, 1);
  const char *path = config_path ? config_path : AVMA_GUEST_DEFAULT_CONFIG;
  g_autoptr(GKeyFile) kf =
      avma_settings_load(settings, G_N_ELEMENTS(settings), path, config_path != NULL, c, error);
  if (!kf)
    return NULL;
  /* The command line wins over the file. */
  avma_settings_override(&c->state_dir, state_dir);
  avma_settings_override(&c->port, port);
  AvmaTiming *t = &c->timing;
  if (t->retry_max < t->retry_initial)
    t->retry_max = t->retry_initial;
  return g_steal_pointer(&c);
}

char *avma_guest_state_path(const AvmaGuestConfig *c, const char *name) {
  return g_build_filename(c->state_dir, name, NULL);
}
