/* intrinsic: the guest's intrinsic items and their change watch. */
#include "intrinsic.h"

#include <arpa/inet.h>
#include <errno.h>
#include <gio/gio.h>
#include <glib-unix.h>
#include <ifaddrs.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>

static char *os_release_field(GHashTable *t, const char *k) {
  const char *v = g_hash_table_lookup(t, k);
  return g_strdup(v ? v : "");
}

static GHashTable *read_os_release(void) {
  GHashTable *t = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
  g_autofree char *data = NULL;
  if (!g_file_get_contents("/etc/os-release", &data, NULL, NULL) &&
      !g_file_get_contents("/usr/lib/os-release", &data, NULL, NULL))
    return t;
  g_auto(GStrv) lines = g_strsplit(data, "\n", -1);
  for (char **l = lines; *l; l++) {
    char *eq = strchr(*l, '=');
    if (!eq || **l == '#')
      continue;
    g_autofree char *k = g_strndup(*l, (gsize)(eq - *l));
    g_autofree char *v = g_strdup(eq + 1);
    g_autofree char *unq = g_shell_unquote(v, NULL);
    g_hash_table_replace(t, g_steal_pointer(&k), g_strdup(unq ? unq : v));
  }
  return t;
}

/* Values are capped by the schema and must be schema text: cut at a UTF-8 boundary and replace
 * control and bidi characters (an odd os-release must not make the whole SET fail). */
static void add_capped(AvmaRecordList *l, AvmaKeyId id, const char *v) {
  unsigned max = avma_schema_keys[id].max_len;
  g_autofree char *safe = g_malloc((gsize)max + 1);
  avma_text_sanitize(v, strlen(v), safe, (size_t)max + 1);
  avma_record_list_add(l, id, safe);
}

static void addresses(GString *v4, GString *v6) {
  struct ifaddrs *ifa = NULL;
  if (getifaddrs(&ifa) < 0)
    return;
  g_autoptr(GPtrArray) seen = g_ptr_array_new_with_free_func(g_free);
  for (struct ifaddrs *i = ifa; i; i = i->ifa_next) {
    if (!i->ifa_addr || (i->ifa_flags & IFF_LOOPBACK))
      continue;
    char buf[INET6_ADDRSTRLEN];
    GString *out = NULL;
    if (i->ifa_addr->sa_family == AF_INET) {
      inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, buf, sizeof buf);
      out = v4;
    } else if (i->ifa_addr->sa_family == AF_INET6) {
      inet_ntop(AF_INET6, &((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr, buf, sizeof buf);
      out = v6;
    } else {
      continue;
    }
    if (out->len + strlen(buf) + 1 > 2000)
      continue;
    if (out->len)
      g_string_append_c(out, ';');
    g_string_append(out, buf);
  }
  freeifaddrs(ifa);
}

AvmaRecordList *avma_intrinsic_collect(void) {
  AvmaRecordList *l = avma_record_list_new();
  char host[256] = "";
  if (gethostname(host, sizeof host - 1) < 0)
    host[0] = '\0';
  /* Only what the system states: resolving the FQDN through DNS could block the loop. */
  g_autofree char *domain = NULL;
  if (!strchr(host, '.') &&
      g_file_get_contents("/proc/sys/kernel/domainname", &domain, NULL, NULL)) {
    g_strstrip(domain);
    if (*domain && strcmp(domain, "(none)")) {
      g_strlcat(host, ".", sizeof host);
      g_strlcat(host, domain, sizeof host);
    }
  }
  add_capped(l, AVMA_KEY_FullyQualifiedDomainName, host);
  add_capped(l, AVMA_KEY_IntegrationServicesVersion, AVMA_VERSION);
  g_autoptr(GHashTable) osr = read_os_release();
  g_autofree char *name = os_release_field(osr, "PRETTY_NAME");
  if (!*name) {
    g_free(name);
    name = g_strdup("Linux");
  }
  add_capped(l, AVMA_KEY_OSName, name);
  g_autofree char *dname = os_release_field(osr, "NAME");
  g_autofree char *dver = os_release_field(osr, "VERSION_ID");
  add_capped(l, AVMA_KEY_OSDistributionName, dname);
  add_capped(l, AVMA_KEY_OSDistributionData, dver);
  struct utsname u;
  if (uname(&u) == 0) {
    add_capped(l, AVMA_KEY_OSVersion, u.release);
    add_capped(l, AVMA_KEY_OSKernelVersion, u.release);
    unsigned maj = 0, min = 0;
    if (sscanf(u.release, "%u.%u", &maj, &min) == 2) {
      g_autofree char *a = g_strdup_printf("%u", maj);
      g_autofree char *b = g_strdup_printf("%u", min);
      avma_record_list_add(l, AVMA_KEY_OSMajorVersion, a);
      avma_record_list_add(l, AVMA_KEY_OSMinorVersion, b);
    }
    add_capped(l, AVMA_KEY_ProcessorArchitecture, u.machine);
  }
  avma_record_list_add(l, AVMA_KEY_OSPlatformId, "100");
  g_autoptr(GString) v4 = g_string_new(NULL);
  g_autoptr(GString) v6 = g_string_new(NULL);
  addresses(v4, v6);
  avma_record_list_add(l, AVMA_KEY_NetworkAddressIPv4, v4->str);
  avma_record_list_add(l, AVMA_KEY_NetworkAddressIPv6, v6->str);
  return l;
}

char *avma_intrinsic_digest(AvmaRecordList *l) {
  g_autoptr(GChecksum) c = g_checksum_new(G_CHECKSUM_SHA256);
  for (guint i = 0; i < avma_record_list_len(l); i++) {
    AvmaRecord r = avma_record_list_get(l, i);
    g_checksum_update(c, (const guchar *)r.key, (gssize)r.key_len);
    g_checksum_update(c, (const guchar *)"=", 1);
    g_checksum_update(c, (const guchar *)r.value, (gssize)r.value_len);
    g_checksum_update(c, (const guchar *)"\n", 1);
  }
  return g_strdup(g_checksum_get_string(c));
}

typedef struct {
  int fd;
  guint watch;
  guint debounce;
  AvmaIntrinsicChanged fn;
  gpointer user;
} Watch;

static gboolean fire(gpointer data) {
  Watch *w = data;
  w->debounce = 0;
  w->fn(w->user);
  return G_SOURCE_REMOVE;
}

static gboolean on_netlink(gint fd, GIOCondition cond, gpointer data) {
  Watch *w = data;
  (void)cond;
  char buf[8192];
  /* The messages themselves are not needed: any address or link change means "collect again". */
  while (recv(fd, buf, sizeof buf, MSG_DONTWAIT) > 0)
    ;
  /* Address changes come in bursts; publish once they settle. */
  if (w->debounce)
    g_source_remove(w->debounce);
  w->debounce = g_timeout_add_seconds(2, fire, w);
  return G_SOURCE_CONTINUE;
}

gpointer avma_intrinsic_watch(AvmaIntrinsicChanged fn, gpointer user) {
  /* rtnetlink address and link notifications: event-driven, no polling, and lighter than
   * GNetworkMonitor (which also watches routes and cost ~1.8 MB RSS, tests/bench/PROFILE.md). */
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);
  struct sockaddr_nl sa = {.nl_family = AF_NETLINK,
                           .nl_groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR};
  if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
    g_warning("cannot watch address changes (netlink: %s); intrinsic items are published at "
              "each renewal only",
              g_strerror(errno));
    if (fd >= 0)
      close(fd);
    return NULL;
  }
  Watch *w = g_new0(Watch, 1);
  w->fd = fd;
  w->fn = fn;
  w->user = user;
  w->watch = g_unix_fd_add(fd, G_IO_IN, on_netlink, w);
  return w;
}

void avma_intrinsic_unwatch(gpointer handle) {
  Watch *w = handle;
  if (!w)
    return;
  g_source_remove(w->watch);
  if (w->debounce)
    g_source_remove(w->debounce);
  close(w->fd);
  g_free(w);
}
