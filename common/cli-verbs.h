/* cli-verbs: a command-line program's verb table and its dispatcher, shared by avma-host and
 * avma-guest (it knows nothing of either). One row per verb holds its words, parameters, summary
 * and long help, so each usage string exists once: `PROG --help` lists the verbs, `PROG VERB
 * --help` and `PROG help VERB` describe one, an incomplete verb ("license") names its sub-verbs,
 * and `PROG __complete WORD...` (hidden) gives the bash completion its candidates. */
#pragma once
#include <glib.h>
#include <stdio.h>

/* Each program defines struct AvmaCliCtx (its global options, loaded configuration). */
typedef struct AvmaCliCtx AvmaCliCtx;
/* argv[0] is the verb's last word; returns the exit status (2 for a usage error). */
typedef int (*AvmaCliHandler)(const AvmaCliCtx *ctx, int argc, char **argv);

typedef struct {
  const char *words;   /* "license set": one or two words */
  const char *params;  /* what follows the words: "[--json]"; the verb's options come from it */
  const char *summary; /* one line, for the verb list */
  const char *help;    /* paragraphs for `VERB --help` (options, exit status), or NULL */
  AvmaCliHandler fn;
} AvmaCliVerb;

typedef struct {
  const char *name;            /* "avma-host": also the prefix of error messages */
  const char *about;           /* one line under the usage line */
  const GOptionEntry *options; /* the global options (for --help and completion) */
  const AvmaCliVerb *verbs;    /* in the order --help lists them */
  size_t n_verbs;
  const char *footer;  /* after the verb list, or NULL */
  const char *version; /* --version prints "NAME VERSION" */
} AvmaCliProgram;

/* Print "PROG: ..." to stderr (PROG from avma_cli_start, else the glib program name); returns 1. */
int avma_cli_fail(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

/* Parse the global options of p, plus --help (the verb list, replacing GOption's) and --version.
 * strict_posix: options end at the verb (the verb's options are its own). Returns -1 to go on,
 * else the exit status (0 after --help or --version, 2 for a bad option). */
int avma_cli_start(const AvmaCliProgram *p, gboolean strict_posix, int *argc, char ***argv);

/* Find the verb argv[1..] names. NULL with *status the exit status when the command line was
 * answered here (help, __complete, no verb, an unknown or incomplete verb); else the row, and
 * *shift words to skip so that argv + *shift starts at the verb's last word. */
const AvmaCliVerb *avma_cli_resolve(const AvmaCliProgram *p, int argc, char **argv, int *shift,
                                    int *status);
/* Call the row's handler (avma_cli_current() returns the row meanwhile). */
int avma_cli_call(const AvmaCliVerb *v, const AvmaCliCtx *ctx, int argc, char **argv);
/* avma_cli_resolve then avma_cli_call. */
int avma_cli_run(const AvmaCliProgram *p, const AvmaCliCtx *ctx, int argc, char **argv);

/* The verb being run (NULL outside a handler). */
const AvmaCliVerb *avma_cli_current(void);
/* Parse the current verb's own options (argv[0] is its last word); the usage line is its row's. */
gboolean avma_cli_parse(GOptionEntry *entries, int *argc, char ***argv, GError **error);

void avma_cli_help(const AvmaCliProgram *p, FILE *f);
void avma_cli_help_verb(const AvmaCliProgram *p, const AvmaCliVerb *v, FILE *f);
