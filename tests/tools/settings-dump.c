/* settings-dump: prints both agents' settings tables (common/settings.h), one setting a line,
 * prefixed by the man page that must document it, for tests/tools/check-settings.sh. Also fails
 * when guest.conf's timing defaults differ from the portable core's (avma_timing_defaults, which
 * the Windows agent uses). */
#include "fleet-config.h"
#include "guest-config.h"
#include "host-config.h"

#include <string.h>

int main(void) {
  size_t n;
  const AvmaSetting *t = avma_host_settings(&n);
  for (size_t i = 0; i < n; i++) {
    fputs("avma-host.conf.5\t", stdout);
    avma_settings_dump(&t[i], 1, stdout);
  }
  t = avma_guest_settings(&n);
  for (size_t i = 0; i < n; i++) {
    fputs("avma-guest.conf.5\t", stdout);
    avma_settings_dump(&t[i], 1, stdout);
  }
  t = avma_fleet_settings(&n);
  for (size_t i = 0; i < n; i++) {
    fputs("avma-fleet.conf.5\t", stdout);
    avma_settings_dump(&t[i], 1, stdout);
  }
  t = avma_guest_settings(&n);
  AvmaGuestConfig c = {0};
  g_autoptr(GError) err = NULL;
  if (!avma_settings_defaults(t, n, &c, &err)) {
    fprintf(stderr, "settings-dump: %s\n", err->message);
    return 1;
  }
  AvmaTiming core;
  avma_timing_defaults(&core);
  int rc = memcmp(&core, &c.timing, sizeof core) ? 1 : 0;
  if (rc)
    fprintf(stderr, "settings-dump: guest.conf's [timing] defaults differ from "
                    "avma_timing_defaults (guest-agent/core/schedule.c)\n");
  avma_settings_clear(t, n, &c);
  return rc;
}
