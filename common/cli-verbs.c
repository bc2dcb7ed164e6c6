/* cli-verbs: the verb table's dispatcher, help and completion candidates. */
#include "cli-verbs.h"

#include <stdarg.h>
#include <string.h>

static const char *prog_name;
static gboolean prog_strict; /* options end at the verb */
static const AvmaCliVerb *current;

static const char *prog(void) {
  return prog_name ? prog_name : g_get_prgname() ? g_get_prgname() : "avma";
}

int avma_cli_fail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "%s: ", prog());
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  return 1;
}

/* ---- the table's words ------------------------------------------------------------------- */

/* The first word of v, or its second (NULL for a one-word verb). */
static gboolean first_is(const AvmaCliVerb *v, const char *word) {
  size_t n = strcspn(v->words, " ");
  return strlen(word) == n && !strncmp(v->words, word, n);
}
static const char *second(const AvmaCliVerb *v) {
  const char *sp = strchr(v->words, ' ');
  return sp ? sp + 1 : NULL;
}
static gboolean hidden(const AvmaCliVerb *v) {
  return v->words[0] == '_';
}
static gboolean is_help(const char *a) {
  return !strcmp(a, "--help") || !strcmp(a, "-h");
}

/* The sub-verbs of a group ("set, show"), NULL when word is no group. */
static char *group_words(const AvmaCliProgram *p, const char *word) {
  g_autoptr(GString) s = NULL;
  for (size_t i = 0; i < p->n_verbs; i++) {
    if (!first_is(&p->verbs[i], word) || !second(&p->verbs[i]))
      continue;
    if (!s)
      s = g_string_new(NULL);
    else
      g_string_append(s, ", ");
    g_string_append(s, second(&p->verbs[i]));
  }
  return s ? g_string_free(g_steal_pointer(&s), FALSE) : NULL;
}

/* ---- help ---------------------------------------------------------------------------------- */

static int words_width(const AvmaCliProgram *p) {
  int w = 0;
  for (size_t i = 0; i < p->n_verbs; i++)
    w = MAX(w, (int)strlen(p->verbs[i].words));
  return w;
}

static void print_options(const GOptionEntry *o, FILE *f) {
  for (; o && o->long_name; o++) {
    if (o->flags & G_OPTION_FLAG_HIDDEN)
      continue;
    g_autofree char *left = g_strdup_printf(
        "%c%c%s--%s%s%s", o->short_name ? '-' : ' ', o->short_name ? o->short_name : ' ',
        o->short_name ? ", " : "  ", o->long_name, o->arg_description ? "=" : "",
        o->arg_description ? o->arg_description : "");
    fprintf(f, "  %-24s %s\n", left, o->description ? o->description : "");
  }
}

void avma_cli_help(const AvmaCliProgram *p, FILE *f) {
  fprintf(f, "Usage: %s [OPTION...] VERB [ARG...]\n", p->name);
  if (p->about)
    fprintf(f, "%s\n", p->about);
  fprintf(f, "\nVerbs:\n");
  int w = words_width(p);
  for (size_t i = 0; i < p->n_verbs; i++)
    if (!hidden(&p->verbs[i]))
      fprintf(f, "  %-*s  %s\n", w, p->verbs[i].words, p->verbs[i].summary);
  fprintf(f, "\nOptions:\n");
  print_options(p->options, f);
  fprintf(f, "  %-24s %s\n", "    --version", "Print the version");
  fprintf(f, "  %-24s %s\n", "-h, --help", "Show this help");
  fprintf(f, "\n'%s VERB --help' or '%s help VERB' describes a verb.\n", p->name, p->name);
  if (p->footer)
    fprintf(f, "%s\n", p->footer);
}

void avma_cli_help_verb(const AvmaCliProgram *p, const AvmaCliVerb *v, FILE *f) {
  fprintf(f, "Usage: %s [OPTION...] %s%s%s\n%s.\n", p->name, v->words, *v->params ? " " : "",
          v->params, v->summary);
  if (v->help)
    fprintf(f, "\n%s\n", v->help);
}

/* A group's sub-verbs, one a line. */
static void help_group(const AvmaCliProgram *p, const char *word, FILE *f) {
  int w = words_width(p);
  for (size_t i = 0; i < p->n_verbs; i++)
    if (first_is(&p->verbs[i], word))
      fprintf(f, "  %-*s  %s\n", w, p->verbs[i].words, p->verbs[i].summary);
  fprintf(f, "'%s %s SUB-VERB --help' describes one.\n", p->name, word);
}

/* ---- resolving a command line ---------------------------------------------------------------- */

/* What `words` (argv after the program, n of them) name: the row, or NULL; *group the first word
 * when it names a group and no sub-verb (or an unknown one) follows. */
static const AvmaCliVerb *lookup(const AvmaCliProgram *p, int n, char **words, int *used,
                                 gboolean *group) {
  *group = FALSE;
  for (size_t i = 0; n >= 1 && i < p->n_verbs; i++) {
    const AvmaCliVerb *v = &p->verbs[i];
    if (!first_is(v, words[0]))
      continue;
    if (!second(v)) {
      *used = 1;
      return v;
    }
    *group = TRUE;
    if (n >= 2 && !strcmp(second(v), words[1])) {
      *used = 2;
      *group = FALSE;
      return v;
    }
  }
  return NULL;
}

static int complete(const AvmaCliProgram *p, int n, char **words);

/* `help WORD...` and `--help` after global options: 0, or 2 for what names no verb. */
static int help_words(const AvmaCliProgram *p, int n, char **words) {
  if (n == 0) {
    avma_cli_help(p, stdout);
    return 0;
  }
  int used;
  gboolean group;
  const AvmaCliVerb *v = lookup(p, n, words, &used, &group);
  if (v) {
    avma_cli_help_verb(p, v, stdout);
    return 0;
  }
  if (group) {
    g_autofree char *subs = group_words(p, words[0]);
    printf("%s %s takes a sub-verb: %s\n", p->name, words[0], subs);
    help_group(p, words[0], stdout);
    return 0;
  }
  avma_cli_fail("unknown verb '%s' (see %s --help)", words[0], p->name);
  return 2;
}

const AvmaCliVerb *avma_cli_resolve(const AvmaCliProgram *p, int argc, char **argv, int *shift,
                                    int *status) {
  prog_name = prog_name ? prog_name : p->name;
  if (argc < 2) {
    avma_cli_help(p, stderr);
    *status = 2;
    return NULL;
  }
  if (!strcmp(argv[1], "help")) {
    *status = help_words(p, argc - 2, argv + 2);
    return NULL;
  }
  if (!strcmp(argv[1], "__complete")) {
    *status = complete(p, argc - 2, argv + 2);
    return NULL;
  }
  int used = 0;
  gboolean group;
  const AvmaCliVerb *v = lookup(p, argc - 1, argv + 1, &used, &group);
  if (!v && group) {
    g_autofree char *subs = group_words(p, argv[1]);
    if (argc >= 3 && is_help(argv[2])) {
      *status = help_words(p, 1, argv + 1);
      return NULL;
    }
    if (argc >= 3)
      avma_cli_fail("unknown verb '%s %s': %s takes %s", argv[1], argv[2], argv[1], subs);
    else
      avma_cli_fail("%s needs a sub-verb: %s", argv[1], subs);
    help_group(p, argv[1], stderr);
    *status = 2;
    return NULL;
  }
  if (!v) {
    avma_cli_fail("unknown verb '%s' (see %s --help)", argv[1], p->name);
    *status = 2;
    return NULL;
  }
  for (int i = 1 + used; i < argc && strcmp(argv[i], "--"); i++)
    if (is_help(argv[i])) {
      avma_cli_help_verb(p, v, stdout);
      *status = 0;
      return NULL;
    }
  *shift = used;
  return v;
}

int avma_cli_call(const AvmaCliVerb *v, const AvmaCliCtx *ctx, int argc, char **argv) {
  const AvmaCliVerb *outer = current;
  current = v;
  int rc = v->fn(ctx, argc, argv);
  current = outer;
  return rc;
}

int avma_cli_run(const AvmaCliProgram *p, const AvmaCliCtx *ctx, int argc, char **argv) {
  int shift = 0, status = 0;
  const AvmaCliVerb *v = avma_cli_resolve(p, argc, argv, &shift, &status);
  return v ? avma_cli_call(v, ctx, argc - shift, argv + shift) : status;
}

const AvmaCliVerb *avma_cli_current(void) {
  return current;
}

gboolean avma_cli_parse(GOptionEntry *entries, int *argc, char ***argv, GError **error) {
  g_return_val_if_fail(current, FALSE);
  g_autoptr(GOptionContext) ctx = g_option_context_new(current->params);
  g_autofree char *summary = g_strdup_printf("%s %s", prog(), current->words);
  g_option_context_set_summary(ctx, summary);
  g_option_context_add_main_entries(ctx, entries, NULL);
  return g_option_context_parse(ctx, argc, argv, error);
}

int avma_cli_start(const AvmaCliProgram *p, gboolean strict_posix, int *argc, char ***argv) {
  prog_name = p->name;
  prog_strict = strict_posix;
  /* The words to complete are not options of this run: avma_cli_resolve reads them. */
  if (*argc >= 2 && !strcmp((*argv)[1], "__complete"))
    return -1;
  gboolean help = FALSE, version = FALSE;
  const GOptionEntry help_entry[] = {
      {"version", 0, 0, G_OPTION_ARG_NONE, &version, "Print the version", NULL},
      {"help", 'h', 0, G_OPTION_ARG_NONE, &help, "Show this help", NULL},
      G_OPTION_ENTRY_NULL};
  g_autoptr(GOptionContext) ctx = g_option_context_new("VERB [ARG...]");
  g_option_context_set_help_enabled(ctx, FALSE);
  g_option_context_add_main_entries(ctx, p->options, NULL);
  g_option_context_add_main_entries(ctx, help_entry, NULL);
  g_option_context_set_strict_posix(ctx, strict_posix);
  g_autoptr(GError) err = NULL;
  if (!g_option_context_parse(ctx, argc, argv, &err)) {
    avma_cli_fail("%s (see %s --help)", err->message, p->name);
    return 2;
  }
  if (help)
    return help_words(p, *argc - 1, *argv + 1);
  if (version) {
    printf("%s %s\n", p->name, p->version ? p->version : "");
    return 0;
  }
  return -1;
}

/* ---- completion candidates ----------------------------------------------------------------- */

static void candidate(const char *word, const char *prefix) {
  if (g_str_has_prefix(word, prefix))
    printf("%s\n", word);
}

static const GOptionEntry *global_option(const AvmaCliProgram *p, const char *arg) {
  for (const GOptionEntry *o = p->options; o && o->long_name; o++)
    if ((g_str_has_prefix(arg, "--") && !strcmp(arg + 2, o->long_name)) ||
        (arg[0] == '-' && arg[1] == o->short_name && !arg[2] && o->short_name))
      return o;
  return NULL;
}

static void global_options(const AvmaCliProgram *p, const char *prefix) {
  for (const GOptionEntry *o = p->options; o && o->long_name; o++) {
    g_autofree char *opt = g_strdup_printf("--%s", o->long_name);
    candidate(opt, prefix);
  }
  candidate("--version", prefix);
  candidate("--help", prefix);
}

/* The options a row's params name ("[--since T]" -> "--since"); with values, the values a
 * "{a|b}" after option opt lists. */
static void params_options(const AvmaCliVerb *v, const char *prefix) {
  for (const char *s = strstr(v->params, "--"); s; s = strstr(s + 2, "--")) {
    size_t n = 2 + strspn(s + 2, "abcdefghijklmnopqrstuvwxyz0123456789-");
    g_autofree char *opt = g_strndup(s, n);
    candidate(opt, prefix);
  }
}
static gboolean params_values(const AvmaCliVerb *v, const char *opt, const char *prefix) {
  g_autofree char *pat = g_strdup_printf("%s {", opt);
  const char *s = strstr(v->params, pat);
  if (!s)
    return FALSE;
  s += strlen(pat);
  g_autofree char *list = g_strndup(s, strcspn(s, "}"));
  g_auto(GStrv) values = g_strsplit(list, "|", -1);
  for (char **x = values; *x; x++)
    candidate(*x, prefix);
  return TRUE;
}

/* words: what follows the program on the line being completed; the last is the word under the
 * cursor (maybe ""). Prints the candidates, one a line; none: the shell completes file names. */
static int complete(const AvmaCliProgram *p, int n, char **words) {
  const char *cur = n ? words[n - 1] : "";
  g_autoptr(GPtrArray) pos = g_ptr_array_new();
  const char *prev_opt = NULL; /* the option the word under the cursor is the value of */
  for (int i = 0; i < n - 1; i++) {
    const GOptionEntry *o = global_option(p, words[i]);
    if (o && o->arg != G_OPTION_ARG_NONE) {
      if (i + 1 == n - 1)
        return 0; /* a global option's value: a file or a URI */
      i++;
      continue;
    }
    if (words[i][0] == '-') {
      prev_opt = i == n - 2 && !strchr(words[i], '=') ? words[i] : NULL;
      continue;
    }
    g_ptr_array_add(pos, words[i]);
  }
  gboolean for_help = pos->len && !strcmp(pos->pdata[0], "help");
  char **verb_words = (char **)pos->pdata + (for_help ? 1 : 0);
  int nverb = (int)pos->len - (for_help ? 1 : 0);
  int used = 0;
  gboolean group = FALSE;
  const AvmaCliVerb *v = lookup(p, nverb, verb_words, &used, &group);
  if (v && !for_help) {
    if (prev_opt && params_values(v, prev_opt, cur))
      return 0;
    if (cur[0] == '-') {
      params_options(v, cur);
      if (!prog_strict) /* global options may follow the verb too */
        global_options(p, cur);
      else
        candidate("--help", cur);
    }
    return 0;
  }
  if (nverb == 0 && !v) {
    if (cur[0] == '-') {
      for (const GOptionEntry *o = p->options; o && o->long_name; o++) {
        g_autofree char *opt = g_strdup_printf("--%s", o->long_name);
        candidate(opt, cur);
      }
      candidate("--help", cur);
      return 0;
    }
    for (size_t i = 0; i < p->n_verbs; i++) {
      g_autofree char *first = g_strndup(p->verbs[i].words, strcspn(p->verbs[i].words, " "));
      if (!hidden(&p->verbs[i]) && (i == 0 || !first_is(&p->verbs[i - 1], first)))
        candidate(first, cur);
    }
    if (!for_help)
      candidate("help", cur);
    return 0;
  }
  if (nverb == 1 && group)
    for (size_t i = 0; i < p->n_verbs; i++)
      if (first_is(&p->verbs[i], verb_words[0]))
        candidate(second(&p->verbs[i]), cur);
  return 0;
}
