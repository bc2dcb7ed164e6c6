/* sysinfo-win32: what Windows says about itself: the product values of
 * HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion (mapped by product-map), the intrinsic KVP
 * items (FQDN, OS, architecture, addresses) and a watch for address changes. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <windows.h>

#include "agent.h"
#include "recs.h"

typedef struct {
  char product_name[256], edition_id[64], build[32], installation_type[64];
  bool has_product_name, has_edition_id, has_build, has_installation_type;
  AvmaProduct product; /* from product-map; UNKNOWN when the values are missing or odd */
  bool known;
  char detail[320]; /* what was found, or which value is odd: for the log */
} AvmaWinProductInfo;

void avma_win_product_read(AvmaWinProductInfo *pi);

/* The intrinsic items, each fitted to the schema (cut at a character boundary, text made safe). */
bool avma_win_intrinsic(AvmaRecs *l, const AvmaWinProductInfo *pi);

/* Address changes signal event (NotifyAddrChange); re-arm after each signal. */
typedef struct {
  OVERLAPPED ov;
  HANDLE handle; /* from NotifyAddrChange */
  bool armed;
} AvmaAddrWatch;
bool avma_addr_watch_start(AvmaAddrWatch *w);
bool avma_addr_watch_rearm(AvmaAddrWatch *w);
void avma_addr_watch_stop(AvmaAddrWatch *w);
