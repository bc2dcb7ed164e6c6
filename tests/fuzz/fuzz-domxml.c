/* fuzz-domxml: the libvirt domain XML reader and editor (host-agent/domxml.c) on arbitrary XML.
 * A domain's XML comes from libvirt, but a tenant controls its name, metadata and devices in many
 * set-ups, so the reader must never crash, leak or return inconsistent results. */
#include "fuzz-glib.h"

#include "domxml.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  fuzz_glib_init();
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  g_autofree char *xml = g_strndup((const char *)data, size);
  const char *name = "org.avma.kvp.0";
  AvmaDomInfo info = {0};
  g_autoptr(GError) err = NULL;
  if (avma_domxml_parse(xml, name, &info, &err)) {
    check(err == NULL);
    if (info.channel == AVMA_DOM_CHANNEL_UNUSABLE)
      check(info.channel_detail != NULL);
    if (info.channel != AVMA_DOM_CHANNEL_UNIX)
      check(info.socket_path == NULL);
    check(info.id >= -1);
    avma_dom_info_clear(&info);
  } else {
    check(err != NULL && err->message != NULL);
  }
  g_autoptr(GError) e2 = NULL;
  g_autofree char *el = avma_domxml_channel_element(xml, name, &e2);
  check((el == NULL) == (e2 != NULL));
  for (int present = 0; present < 2; present++) {
    gboolean changed = FALSE;
    g_autoptr(GError) e3 = NULL;
    g_autofree char *edited = avma_domxml_edit_channel(xml, name, present, &changed, &e3);
    check((edited == NULL) == (e3 != NULL));
    if (!edited)
      continue;
    /* What the editor writes, the reader reads, with the channel present or gone as asked. */
    AvmaDomInfo again = {0};
    g_autoptr(GError) e4 = NULL;
    if (avma_domxml_parse(edited, name, &again, &e4)) {
      if (!present)
        check(again.channel == AVMA_DOM_CHANNEL_NONE);
      avma_dom_info_clear(&again);
    }
  }
  return 0;
}
