/*
 * diag: a list of positioned messages, collected across every file and
 * document, then sorted and printed as `file:line:col: message` (or JSON).
 * Validation never stops at the first mistake: it adds here and goes on.
 */
#ifndef CFS_DIAG_H
#define CFS_DIAG_H

#include <stddef.h>
#include <stdio.h>

#include "../err/err.h"

/* More than this many diagnostics are counted but not kept. */
#define DIAG_MAX 10000

struct diag {
	char *file;     /* owned copy */
	unsigned line, col;
	char *msg;      /* owned */
};

struct diags {
	struct diag *v;
	size_t n, cap;
	size_t dropped; /* past DIAG_MAX */
};

void diags_init(struct diags *d);
void diags_release(struct diags *d);
void diags_add(struct diags *d, struct src_pos pos, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Sorts by file, line, column (stable for equal positions) and drops exact
 * duplicates. */
void diags_sort(struct diags *d);
void diags_print_text(const struct diags *d, FILE *out);
void diags_print_json(const struct diags *d, FILE *out);

/* For "did you mean": the candidate (NULL-terminated list) closest to word,
 * within a third of its length in edits (at least 2), or one that word starts
 * (3 letters or more); NULL when none is close. Case-insensitive. */
const char *diag_closest(const char *word, const char *const *cands);

#endif
