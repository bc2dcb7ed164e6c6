/* settings: an agent's configuration as one table (group, key, type, range, default, doc line)
 * and the one loader that applies it to a GKeyFile. The man pages document the same table, and
 * `make check` (tests/tools/check-settings.sh) fails when a setting's range or default is not in
 * them. Keys a table does not name are ignored, as GKeyFile files usually are. */
#pragma once
#include <glib.h>
#include <stddef.h>
#include <stdio.h>

typedef enum {
  AVMA_SETTING_INT,    /* an integer from min to max, stored as `store` says */
  AVMA_SETTING_BOOL,   /* true or false, into a gboolean */
  AVMA_SETTING_STRING, /* text (whitespace stripped), into a char * the config owns */
  AVMA_SETTING_CHOICE, /* one of `choices`, turned into the field by `parse` */
} AvmaSettingType;

typedef enum {
  AVMA_STORE_I64, /* gint64 / int64_t */
  AVMA_STORE_UINT,
  AVMA_STORE_SIZE,
  AVMA_STORE_DOUBLE,
} AvmaSettingStore;

typedef struct {
  const char *group;
  const char *key;
  AvmaSettingType type;
  gint64 min, max;       /* AVMA_SETTING_INT */
  const char *def;       /* the default as the man page gives it ("604800", "auto") */
  gboolean def_computed; /* def describes what the program computes ("STATE/avma.prom"): not set */
  const char *choices;   /* AVMA_SETTING_CHOICE: "auto|yes|no"; BOOL: "true|false" */
  const char *unit;      /* for messages and docs: "seconds", or NULL */
  const char *doc;       /* one line */
  size_t offset;         /* of the field in the configuration struct */
  AvmaSettingStore store;
  /* AVMA_SETTING_CHOICE: text -> field; FALSE when the text is none of the choices. */
  gboolean (*parse)(const char *text, void *field);
} AvmaSetting;

/* Set every field that has a default that is not computed. */
gboolean avma_settings_defaults(const AvmaSetting *table, size_t n, void *config, GError **error);
/* Apply the keys kf holds. Errors name the file (path), group, key and the accepted values. */
gboolean avma_settings_apply(const AvmaSetting *table, size_t n, GKeyFile *kf, const char *path,
                             void *config, GError **error);
/* The whole load: defaults, then the key file at path (missing is fine unless `required`: the
 * default path may be absent, one given on the command line may not), then the table applied.
 * Returns the key file, for groups the table does not cover, or NULL on error. */
GKeyFile *avma_settings_load(const AvmaSetting *table, size_t n, const char *path,
                             gboolean required, void *config, GError **error);
/* A command-line override of a string setting: replaces *field when value is not NULL. */
void avma_settings_override(char **field, const char *value);
/* Free the table's string fields of config. */
void avma_settings_clear(const AvmaSetting *table, size_t n, void *config);
/* One line per setting: group, key, type, min, max, default, choices, unit, doc, tab-separated
 * (for the documentation check). */
void avma_settings_dump(const AvmaSetting *table, size_t n, FILE *f);
