/*
 * ydoc: YAML text -> a small tree of positioned nodes, built from libyaml's
 * event API (not its document loader, which keeps no per-value positions we can
 * bound, checks no duplicate keys and expands aliases without limit).
 *
 * Every node remembers where it starts (1-based line and column). Hostile input
 * is refused before it costs memory or time: see the limits below.
 */
#ifndef CFS_YDOC_H
#define CFS_YDOC_H

#include <stddef.h>
#include <stdint.h>

#include "../diag/diag.h"
#include "../err/err.h"

/* Largest manifest file or stdin stream we read, in bytes. */
#define YDOC_MAX_FILE (16u * 1024 * 1024)
/* Deepest nesting of mappings and sequences; ours need about 8. */
#define YDOC_MAX_DEPTH 64
/* Most alias uses (*name) in one file; manifests rarely need more than a few. */
#define YDOC_MAX_ALIASES 128
/* Most nodes in one file, counting each alias as the nodes it expands to.
 * Stops billion-laughs expansion and bounds memory (~50 bytes a node). */
#define YDOC_MAX_NODES 400000
/* Most documents in one file. */
#define YDOC_MAX_DOCS 10000
/* Longest mapping key: field names are under 40 bytes, label keys at most
 * 317 (a 253-byte DNS prefix, '/', a 63-byte name). */
#define YDOC_MAX_KEY 512

enum ynode_kind { YNODE_SCALAR = 1, YNODE_MAP, YNODE_SEQ };

struct ypair;

struct ynode {
	enum ynode_kind kind;
	unsigned line, col;   /* 1-based */
	unsigned plain : 1;   /* plain (unquoted, untagged) scalar */
	uint32_t n;           /* items in a sequence, pairs in a mapping */
	char *s;              /* scalar text, NUL-terminated (may hold no NUL) */
	size_t len;           /* scalar length in bytes */
	struct ynode **items; /* sequence */
	struct ypair *pairs;  /* mapping, in source order */
	uint64_t weight;      /* nodes below and including this, aliases expanded */
};

struct ypair {
	struct ynode *key; /* always a scalar */
	struct ynode *val;
};

struct ydoc {
	struct ynode *root;   /* NULL for an empty document */
	unsigned line, col;   /* where the document starts */
};

/* All documents of one file; owns every node and the file name. */
struct ystream {
	char *file;
	struct ydoc *docs;
	size_t ndocs;
	struct ynode **all; /* every node allocated, for freeing */
	size_t nall, capall;
};

/*
 * Parses data[0..len) as YAML documents. Problems are added to `d` with their
 * positions. Returns the documents read before the first fatal problem (a
 * syntax error or a hostile construct stops the file; duplicate keys do not);
 * free with ystream_free(). `file` is copied.
 */
struct ystream *ydoc_parse(const char *file, const char *data, size_t len,
                           struct diags *d);
void ystream_free(struct ystream *s);

/* Builds a src_pos for n in stream s (file borrowed from s). */
struct src_pos ynode_pos(const struct ystream *s, const struct ynode *n);
/* Looks a key up in a mapping; NULL when absent. */
const struct ynode *ynode_get(const struct ynode *map, const char *key);
/* True for a plain null scalar: empty, ~, null. */
int ynode_is_null(const struct ynode *n);
/* "mapping", "sequence", "string", "null", ... for messages. */
const char *ynode_kind_name(const struct ynode *n);

#endif
