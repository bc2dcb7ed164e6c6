/* sysinfo-win32: registry product values, intrinsic items from Win32, address-change watch. */
#include "sysinfo-win32.h"

#include "product-map.h"
#include "winutil.h"

/* winsock2 before windows.h's winsock; iphlpapi after both. */
#include <winsock2.h>
#include <ws2tcpip.h>

#include <iphlpapi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CURRENT_VERSION L"SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion"

static bool reg_str(const wchar_t *name, char *out, size_t cap) {
  wchar_t w[256];
  DWORD size = sizeof w;
  /* RRF_RT_REG_SZ only: the four values are REG_SZ on every Windows Server; anything else is
   * an odd value and the key decides. */
  if (RegGetValueW(HKEY_LOCAL_MACHINE, CURRENT_VERSION, name, RRF_RT_REG_SZ, NULL, w, &size) !=
      ERROR_SUCCESS)
    return false;
  char *u = avma_utf8(w);
  if (!u)
    return false;
  snprintf(out, cap, "%s", u);
  free(u);
  return true;
}

void avma_win_product_read(AvmaWinProductInfo *pi) {
  memset(pi, 0, sizeof *pi);
  pi->has_product_name = reg_str(L"ProductName", pi->product_name, sizeof pi->product_name);
  pi->has_edition_id = reg_str(L"EditionID", pi->edition_id, sizeof pi->edition_id);
  pi->has_build = reg_str(L"CurrentBuildNumber", pi->build, sizeof pi->build);
  pi->has_installation_type =
      reg_str(L"InstallationType", pi->installation_type, sizeof pi->installation_type);
  pi->known = avma_product_map(
      pi->has_product_name ? pi->product_name : NULL, pi->has_edition_id ? pi->edition_id : NULL,
      pi->has_build ? pi->build : NULL, pi->has_installation_type ? pi->installation_type : NULL,
      &pi->product, pi->detail, sizeof pi->detail);
}

/* Text values: cut to the key's limit at a character boundary, unsafe characters replaced. */
static bool add_text(AvmaRecs *l, AvmaKeyId id, const char *v) {
  unsigned max = avma_schema_keys[id].max_len;
  char safe[2049];
  if (max > sizeof safe - 1)
    max = sizeof safe - 1;
  avma_text_sanitize(v, strlen(v), safe, (size_t)max + 1);
  return avma_recs_add(l, id, safe);
}

/* A DNS name can hold what the schema's hostname type refuses (an IDN in Unicode form): replace
 * those characters rather than fail the whole SET. */
static void hostname_safe(const char *in, char *out, size_t cap) {
  size_t o = 0;
  for (; *in && o + 1 < cap; in++) {
    unsigned char c = (unsigned char)*in;
    if (c >= 0x80 && (c & 0xC0) == 0x80)
      continue; /* one '-' per multi-byte character */
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-' || c == '_';
    out[o++] = ok ? (char)c : '-';
  }
  out[o] = '\0';
}

typedef LONG(WINAPI *RtlGetVersionFn)(OSVERSIONINFOW *);

static bool os_version(OSVERSIONINFOW *v) {
  memset(v, 0, sizeof *v);
  v->dwOSVersionInfoSize = sizeof *v;
  /* GetVersionEx lies to programs without a manifest; RtlGetVersion does not. */
  HMODULE nt = GetModuleHandleW(L"ntdll.dll");
  RtlGetVersionFn fn =
      nt ? (RtlGetVersionFn)(void (*)(void))GetProcAddress(nt, "RtlGetVersion") : NULL;
  return fn && fn(v) == 0;
}

static const char *arch_name(WORD a) {
  /* Hyper-V's intrinsic ProcessorArchitecture is the PROCESSOR_ARCHITECTURE_* number as text,
   * so tools written for Hyper-V KVP read ours the same way. */
  static char buf[8];
  snprintf(buf, sizeof buf, "%u", (unsigned)a);
  return buf;
}

static void append_addr(char *list, size_t cap, const char *a) {
  size_t n = strlen(list), m = strlen(a);
  if (n + m + 2 > cap || n + m + 2 > 2000)
    return; /* the schema's value limit: drop what does not fit */
  if (n)
    list[n++] = ';';
  memcpy(list + n, a, m + 1);
}

static void addresses(char *v4, char *v6, size_t cap) {
  v4[0] = v6[0] = '\0';
  ULONG size = 16384;
  IP_ADAPTER_ADDRESSES *aa = NULL;
  ULONG r = ERROR_BUFFER_OVERFLOW;
  ULONG flags = GAA_FLAG_SKIP_ANYCAST | GAA_FLAG_SKIP_MULTICAST | GAA_FLAG_SKIP_DNS_SERVER;
  for (int tries = 0; tries < 3 && r == ERROR_BUFFER_OVERFLOW; tries++) {
    free(aa);
    aa = malloc(size);
    if (!aa)
      return;
    r = GetAdaptersAddresses(AF_UNSPEC, flags, NULL, aa, &size);
  }
  if (r != NO_ERROR) {
    free(aa);
    return;
  }
  for (IP_ADAPTER_ADDRESSES *a = aa; a; a = a->Next) {
    if (a->IfType == IF_TYPE_SOFTWARE_LOOPBACK)
      continue;
    for (IP_ADAPTER_UNICAST_ADDRESS *u = a->FirstUnicastAddress; u; u = u->Next) {
      char buf[64];
      SOCKADDR *sa = u->Address.lpSockaddr;
      if (sa->sa_family == AF_INET &&
          inet_ntop(AF_INET, &((SOCKADDR_IN *)sa)->sin_addr, buf, sizeof buf))
        append_addr(v4, cap, buf);
      else if (sa->sa_family == AF_INET6 &&
               inet_ntop(AF_INET6, &((SOCKADDR_IN6 *)sa)->sin6_addr, buf, sizeof buf))
        append_addr(v6, cap, buf); /* no %scope: the schema's ipv6-list has none */
    }
  }
  free(aa);
}

bool avma_win_intrinsic(AvmaRecs *l, const AvmaWinProductInfo *pi) {
  char tmp[512];
  wchar_t wname[256];
  DWORD n = 256;
  char host[256] = "";
  if (GetComputerNameExW(ComputerNameDnsFullyQualified, wname, &n)) {
    char *u = avma_utf8(wname);
    if (u)
      hostname_safe(u, host, sizeof host);
    free(u);
  }
  bool ok = avma_recs_add(l, AVMA_KEY_FullyQualifiedDomainName, host);
  ok = ok && avma_recs_add(l, AVMA_KEY_IntegrationServicesVersion, AVMA_VERSION);
  ok = ok && add_text(l, AVMA_KEY_OSName, pi->has_product_name ? pi->product_name : "Windows");
  OSVERSIONINFOW v;
  if (os_version(&v)) {
    snprintf(tmp, sizeof tmp, "%lu.%lu.%lu", (unsigned long)v.dwMajorVersion,
             (unsigned long)v.dwMinorVersion, (unsigned long)v.dwBuildNumber);
    ok = ok && avma_recs_add(l, AVMA_KEY_OSVersion, tmp);
    snprintf(tmp, sizeof tmp, "%lu", (unsigned long)v.dwMajorVersion);
    ok = ok && avma_recs_add(l, AVMA_KEY_OSMajorVersion, tmp);
    snprintf(tmp, sizeof tmp, "%lu", (unsigned long)v.dwMinorVersion);
    ok = ok && avma_recs_add(l, AVMA_KEY_OSMinorVersion, tmp);
    snprintf(tmp, sizeof tmp, "%lu", (unsigned long)v.dwBuildNumber);
    ok = ok && avma_recs_add(l, AVMA_KEY_OSBuildNumber, tmp);
  }
  ok = ok && avma_recs_add(l, AVMA_KEY_OSPlatformId, "2"); /* VER_PLATFORM_WIN32_NT */
  SYSTEM_INFO si;
  GetNativeSystemInfo(&si);
  ok = ok && avma_recs_add(l, AVMA_KEY_ProcessorArchitecture, arch_name(si.wProcessorArchitecture));
  char v4[2048], v6[2048];
  addresses(v4, v6, sizeof v4);
  ok = ok && avma_recs_add(l, AVMA_KEY_NetworkAddressIPv4, v4);
  ok = ok && avma_recs_add(l, AVMA_KEY_NetworkAddressIPv6, v6);
  return ok;
}

bool avma_addr_watch_start(AvmaAddrWatch *w) {
  memset(w, 0, sizeof *w);
  w->ov.hEvent = CreateEventW(NULL, TRUE, FALSE, NULL);
  return w->ov.hEvent && avma_addr_watch_rearm(w);
}

bool avma_addr_watch_rearm(AvmaAddrWatch *w) {
  ResetEvent(w->ov.hEvent);
  w->handle = NULL;
  DWORD r = NotifyAddrChange(&w->handle, &w->ov);
  w->armed = r == ERROR_IO_PENDING || r == NO_ERROR;
  return w->armed;
}

void avma_addr_watch_stop(AvmaAddrWatch *w) {
  if (w->armed)
    (void)CancelIPChangeNotify(&w->ov);
  w->armed = false;
  if (w->ov.hEvent)
    CloseHandle(w->ov.hEvent);
  w->ov.hEvent = NULL;
}
