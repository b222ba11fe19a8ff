/*
 * state_int: what state.c lends its backends (state_r2.c) and nobody else:
 * the parser and printer of the state document, and clearing the data.
 */
#ifndef CFS_STATE_INT_H
#define CFS_STATE_INT_H

#include "state.h"

/* Parses a state document into st (st->path names it in errors). */
enum errcode state_int_parse(struct state *st, const char *data, size_t len, struct err *e)
	WARN_UNUSED_RESULT;
/* The document as state_save() writes it, newline included. Free it. */
char *state_int_serialize(const struct state *st);
/* Drops every entry and ledger. */
void state_int_clear(struct state *st);

#endif
