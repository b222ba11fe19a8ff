/*
 * plan: desired (manifests) + observed (snapshot) + inventory (state) + now
 * -> ordered actions. Pure: no I/O, no clock. Canonicalises before it
 * compares (lifecycle rules keyed by id, Cloudflare's default multipart-abort
 * rule kept, days vs seconds, empty vs absent, order-insensitive sets) so that
 * a converged account always plans clean.
 */
#ifndef CFS_PLAN_H
#define CFS_PLAN_H

#include <stdint.h>

#include "../manifest/manifest.h"
#include "../observe/observe.h"
#include "../state/state.h"

/* Entry changes listed one by one in a plan; beyond this, a count. */
#define PLAN_MAX_ENTRY_LINES 20

/* The lifecycle rule Cloudflare puts on every new bucket (REFERENCE §3.1). */
#define PLAN_DEFAULT_LC_ID "Default Multipart Abort Rule"
#define PLAN_DEFAULT_LC_DAYS 7

enum plan_op {
	PLAN_NOOP = 0,
	PLAN_CREATE,
	PLAN_UPDATE,
	PLAN_DELETE,
	PLAN_ADOPT,
	PLAN_REFUSE,
	PLAN_FORGET,   /* drop from the inventory, keep in the account */
	PLAN_ROTATE,   /* a Secret: write a new version, then flip the pointer */
};

struct plan_change {
	char sign;        /* '+', '-', '~', '!' */
	char *field;      /* e.g. "storageClass", "lifecycle.rules[tmp]" */
	char *text;       /* human line without the sign */
	char *before;     /* JSON (or plain) value in the account; NULL when none or unknown */
	char *after;      /* JSON (or plain) value declared; NULL when none */
};

/*
 * Parts of a resource this pass did not observe (observe_sel left them
 * unread). Unobserved is unknown, never empty: the plan writes, deletes and
 * reverts nothing in such a part, and apply keeps what the inventory says it
 * manages there, until a later pass reads it.
 */
#define PLAN_UNOBSERVED_LIFECYCLE 1u
#define PLAN_UNOBSERVED_CORS 2u
#define PLAN_UNOBSERVED_KV_KEYS 4u

struct plan_action {
	enum plan_op op;
	enum kind kind;
	char *name;                     /* metadata.name */
	char *what;                     /* "bucket 'acme-logs' (eu)", "namespace 'flags'" */
	const struct resource *want;    /* borrowed; NULL for a resource that left */
	const struct obs_bucket *ob;    /* borrowed */
	const struct obs_kv *okv;       /* borrowed */
	char *reason;                   /* why (refuse, delete, forget, notes) */
	char *note;                     /* extra line, e.g. entries not yet applied */
	struct plan_change *changes;
	size_t nchanges;
	/* the work, in order */
	int create, set_storage_class, put_lifecycle, put_cors, delete_cors, rename, del;
	int record;                     /* write the inventory even with no API work */
	int held;                       /* refused only because it is on hold (plan_opts) */
	int imported;                   /* an adoption by `cfstorage import` */
	int wa_new;                     /* apply: the write-ahead added the entry */
	unsigned unobserved;            /* PLAN_UNOBSERVED_*: parts left unknown */
	struct lc_rule *lc;             /* put_lifecycle body (owned) */
	size_t nlc;
	char spec_hash[17];
	/* Secrets */
	unsigned version;               /* the version to write (rotate/create) */
	unsigned *destroy;              /* versions the retain policy destroys */
	size_t ndestroy;
	int del_secret;                 /* prune: every version, pointer and alias */
	struct sec_ledger *ledger;      /* the ledger as the account shows it, recorded
	                                   before anything else (owned); NULL: unchanged */
	size_t *fix_ptr;                /* targets (indices) whose <NAME>_VERSION is rewritten */
	size_t nfix_ptr;
	size_t *fix_alias;              /* Secrets Store targets whose alias is re-copied */
	size_t nfix_alias;
	unsigned lost;                  /* retained versions lost in the account (Degraded) */
	/* KV entries */
	size_t *kv_put;                 /* indices into want->u.kv.entries to write */
	size_t nkv_put;
	char **kv_del;                  /* keys to delete (prune) */
	size_t nkv_del;
	/* D1 databases (plan_d1.c) */
	const struct obs_d1 *od1;       /* borrowed; NULL when absent */
	int set_replication;            /* PUT read_replication.mode */
	size_t *d1_run;                 /* migrations to apply (indices into
	                                   want->u.d1.migrations), in order */
	size_t nd1_run;
	size_t *d1_found;               /* migrations the table lists that the state has no
	                                   hash for: recorded with the file's hash */
	size_t nd1_found;
};

/* A resource whose work waits (the daemon's backoff): planned as refused. */
struct plan_hold {
	enum kind kind;
	const char *name;
	const char *why;      /* the refusal's reason, e.g. "backing off until …" */
};

struct plan_opts {
	int prune;
	int allow_empty;
	int64_t now;
	const char *rotate;   /* `rotate NAME`: rotate this Secret now */
	int force;            /* with rotate: even when its version is young */
	enum kind only_kind;  /* with only: plan this one resource and nothing else */
	const char *only;
	int adopt_only;       /* import: an adoption records ownership and changes nothing */
	const struct plan_hold *holds;
	size_t nholds;
};

struct plan {
	struct plan_action *v;
	size_t n;
	size_t counts[PLAN_ROTATE + 1];
};

/*
 * Plans the account's changes: a function of the manifests, what the account
 * showed, the state's inventory and ledgers, and the options; it changes none
 * of them and does no I/O. Actions name their resource by (kind, name).
 * ERR_NOTFOUND (e set) when opts->only names no resource of the manifests.
 * Free out with plan_release() in every case.
 */
enum errcode plan_compute(const struct manifest_set *want, const struct snapshot *snap,
                          const struct state *st, const struct plan_opts *o, struct plan *out,
                          struct err *e) WARN_UNUSED_RESULT;
void plan_release(struct plan *p);
/* 1 when applying would change something or something was refused. */
int plan_has_changes(const struct plan *p);
const char *plan_op_name(enum plan_op op);
/* What action a relied on (itself, and what snap showed of its resource),
 * as 64 hex digits: saved plans compare it to refuse a stale plan. */
void plan_fingerprint(const struct plan_action *a, const struct snapshot *snap, char out[65]);
/* The spec hash recorded in the inventory (16 hex digits). */
void plan_spec_hash(const struct resource *r, char out[17]);

#endif
