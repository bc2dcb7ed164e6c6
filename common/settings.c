/* settings: the table-driven configuration loader. */
#include "settings.h"

#include <gio/gio.h>
#include <stdio.h>
#include <string.h>

static void *field(void *config, const AvmaSetting *s) {
  return (char *)config + s->offset;
}

static void store_int(void *config, const AvmaSetting *s, gint64 v) {
  void *p = field(config, s);
  switch (s->store) {
  case AVMA_STORE_I64:
    *(gint64 *)p = v;
    break;
  case AVMA_STORE_UINT:
    *(guint *)p = (guint)v;
    break;
  case AVMA_STORE_SIZE:
    *(gsize *)p = (gsize)v;
    break;
  case AVMA_STORE_DOUBLE:
    *(double *)p = (double)v;
    break;
  }
}

static void store_string(void *config, const AvmaSetting *s, const char *v) {
  char **p = field(config, s);
  g_free(*p);
  *p = g_strstrip(g_strdup(v));
}

static const char *choices_words(const AvmaSetting *s, char *buf, size_t len) {
  /* "auto|yes|no" -> "auto, yes or no" */
  g_auto(GStrv) w = g_strsplit(s->choices ? s->choices : "", "|", -1);
  guint n = g_strv_length(w);
  buf[0] = '\0';
  for (guint i = 0; i < n; i++) {
    g_strlcat(buf, w[i], len);
    if (i + 2 < n)
      g_strlcat(buf, ", ", len);
    else if (i + 2 == n)
      g_strlcat(buf, " or ", len);
  }
  return buf;
}

/* One value's text onto the field; a message naming what is accepted when it does not fit. */
static gboolean set_text(void *config, const AvmaSetting *s, const char *text, const char *where,
                         GError **error) {
  char words[256];
  switch (s->type) {
  case AVMA_SETTING_INT: {
    g_autofree char *t = g_strstrip(g_strdup(text));
    char *end = NULL;
    gint64 v = *t ? g_ascii_strtoll(t, &end, 10) : 0;
    if (!*t || *end || v < s->min || v > s->max) {
      g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                  "%s[%s] %s must be an integer from %" G_GINT64_FORMAT " to %" G_GINT64_FORMAT
                  "%s%s%s, not '%s'",
                  where, s->group, s->key, s->min, s->max, s->unit ? " (" : "",
                  s->unit ? s->unit : "", s->unit ? ")" : "", t);
      return FALSE;
    }
    store_int(config, s, v);
    return TRUE;
  }
  case AVMA_SETTING_BOOL: {
    g_autofree char *t = g_strstrip(g_strdup(text));
    if (strcmp(t, "true") && strcmp(t, "false") && strcmp(t, "1") && strcmp(t, "0")) {
      g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                  "%s[%s] %s must be true or false, not '%s'", where, s->group, s->key, t);
      return FALSE;
    }
    *(gboolean *)field(config, s) = !strcmp(t, "true") || !strcmp(t, "1");
    return TRUE;
  }
  case AVMA_SETTING_STRING:
    store_string(config, s, text);
    return TRUE;
  case AVMA_SETTING_CHOICE: {
    g_autofree char *t = g_strstrip(g_strdup(text));
    if (!s->parse(t, field(config, s))) {
      g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                  "%s[%s] %s must be %s, not '%s'", where, s->group, s->key,
                  choices_words(s, words, sizeof words), t);
      return FALSE;
    }
    return TRUE;
  }
  }
  return FALSE;
}

gboolean avma_settings_defaults(const AvmaSetting *table, size_t n, void *config, GError **error) {
  for (size_t i = 0; i < n; i++)
    if (table[i].def && !table[i].def_computed &&
        !set_text(config, &table[i], table[i].def, "default of ", error))
      return FALSE;
  return TRUE;
}

gboolean avma_settings_apply(const AvmaSetting *table, size_t n, GKeyFile *kf, const char *path,
                             void *config, GError **error) {
  g_autofree char *where = g_strdup_printf("%s: ", path);
  for (size_t i = 0; i < n; i++) {
    const AvmaSetting *s = &table[i];
    if (!g_key_file_has_key(kf, s->group, s->key, NULL))
      continue;
    /* The raw value: GKeyFile's own escapes (\s, \n) are for strings only. */
    g_autoptr(GError) local = NULL;
    g_autofree char *v = s->type == AVMA_SETTING_STRING
                             ? g_key_file_get_string(kf, s->group, s->key, &local)
                             : g_key_file_get_value(kf, s->group, s->key, &local);
    if (!v) {
      g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE, "%s[%s] %s: %s", where,
                  s->group, s->key, local->message);
      return FALSE;
    }
    if (!set_text(config, s, v, where, error))
      return FALSE;
  }
  return TRUE;
}

GKeyFile *avma_settings_load(const AvmaSetting *table, size_t n, const char *path,
                             gboolean required, void *config, GError **error) {
  if (!avma_settings_defaults(table, n, config, error))
    return NULL;
  g_autoptr(GKeyFile) kf = g_key_file_new();
  g_autoptr(GError) local = NULL;
  if (!g_key_file_load_from_file(kf, path, G_KEY_FILE_NONE, &local) &&
      (required || !g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_NOENT))) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "config %s: %s", path, local->message);
    return NULL;
  }
  if (!avma_settings_apply(table, n, kf, path, config, error))
    return NULL;
  return g_steal_pointer(&kf);
}

void avma_settings_override(char **field, const char *value) {
  if (value) {
    g_free(*field);
    *field = g_strdup(value);
  }
}

void avma_settings_clear(const AvmaSetting *table, size_t n, void *config) {
  for (size_t i = 0; i < n; i++)
    if (table[i].type == AVMA_SETTING_STRING)
      g_clear_pointer((char **)field(config, &table[i]), g_free);
}

void avma_settings_dump(const AvmaSetting *table, size_t n, FILE *f) {
  static const char *const types[] = {"int", "bool", "string", "choice"};
  for (size_t i = 0; i < n; i++) {
    const AvmaSetting *s = &table[i];
    fprintf(f, "%s\t%s\t%s\t", s->group, s->key, types[s->type]);
    if (s->type == AVMA_SETTING_INT)
      fprintf(f, "%" G_GINT64_FORMAT "\t%" G_GINT64_FORMAT, s->min, s->max);
    else
      fputc('\t', f);
    fprintf(f, "\t%s\t%s\t%s\t%s\n", s->def ? s->def : "",
            s->type == AVMA_SETTING_BOOL ? "true|false"
            : s->choices                 ? s->choices
                                         : "",
            s->unit ? s->unit : "", s->doc);
  }
}
