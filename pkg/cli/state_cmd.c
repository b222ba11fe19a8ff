/*
 * state_cmd.c: `cfstorage state show | unlock --force | migrate --to URL`,
 * the operator's view of the state wherever it lives (a file, etcd, R2).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../diag/diag.h"
#include "../log/log.h"
#include "../session/session.h"
#include "../state/state_r2.h"
#include "cli.h"


/* The API endpoint and account as session_open would pick them. */
static void
endpoint_account(const struct cli_opts *o, const char **endpoint, const char **account)
{
	*endpoint = o->endpoint ? o->endpoint : getenv("CLOUDFLARE_API_BASE_URL");
	if (*endpoint == NULL || **endpoint == '\0')
		*endpoint = SESSION_DEFAULT_ENDPOINT;
	*account = o->account_id ? o->account_id : getenv("CLOUDFLARE_ACCOUNT_ID");
}

/*
 * Opens the state at path: a file or etcd directly; an r2:// state through
 * a session (token, S3 credentials), opened once in s and reused. lock as
 * for state_open. Free *st with state_close().
 */
static enum errcode
open_one(const struct cli_opts *o, struct session *s, int *s_open, const char *path, int lock,
         struct state **st, struct err *e)
{
	const char *endpoint, *account;
	struct session_config cfg;
	enum errcode rc;

	*st = NULL;
	if (!state_is_r2(path))
		return state_open(path, lock, st, e);
	memset(&cfg, 0, sizeof(cfg));
	cfg.no_state = 1;
	cfg.need_api = 1;
	cfg.account_id = o->account_id;
	cfg.token_file = o->token_file;
	cfg.endpoint = o->endpoint;
	cfg.local = o->local;
	cfg.command = "state";
	if (!*s_open) {
		struct diags d;

		diags_init(&d);
		rc = session_open(&cfg, s, &d, e);
		diags_release(&d);
		*s_open = 1;
		if (rc != ERR_OK)
			return rc;
	}
	endpoint_account(o, &endpoint, &account);
	if (s->emu)
		account = api_account(s->api);
	rc = session_open_r2(&cfg, s, path, endpoint, account, lock, e);
	*st = s->st; /* hand-over: the caller closes it */
	s->st = NULL;
	return rc;
}

static void
show(const struct state *st, const char *lock)
{
	printf("state %s\n", st->path);
	if (lock)
		printf("lock: %s\n", lock[0] ? lock : "none");
	printf("resources: %zu\n", st->n);
	for (size_t i = 0; i < st->n; i++) {
		const struct inv_entry *x = st->v[i];

		printf("  %s %s", kind_name(x->kind), x->name);
		if (x->bucket_name)
			printf(" bucket=%s jurisdiction=%s", x->bucket_name,
			       x->jurisdiction ? x->jurisdiction : "default");
		if (x->kv_id)
			printf(" id=%s", x->kv_id);
		printf(" origin=%s policy=%s%s condition=\"%s\" updated=%s\n",
		       x->origin == ORIGIN_ADOPTED ? "adopted" : x->origin == ORIGIN_IMPORTED ?
		       "imported" : "created", x->policy == DELETION_DELETE ? "Delete" : "Retain",
		       x->pending ? " pending" : "", x->condition ? x->condition : "",
		       x->updated ? x->updated : "-");
	}
	printf("secrets: %zu\n", st->nsecrets);
	for (size_t i = 0; i < st->nsecrets; i++) {
		const struct sec_ledger *l = st->secrets[i];

		printf("  %s targets=%zu\n", l->name, l->ntargets);
		for (size_t j = 0; j < l->n; j++)
			printf("    v%u %s fingerprint=%s targets=%zu\n", l->v[j].n,
			       vstatus_name(l->v[j].status), l->v[j].fp, l->v[j].ntargets);
	}
}

/* Copies every entry and ledger of src into dst (emptied first). */
static void
copy_state(struct state *dst, struct state *src)
{
	while (dst->n)
		state_remove(dst, dst->v[0]->kind, dst->v[0]->name);
	while (dst->nsecrets)
		state_ledger_remove(dst, dst->secrets[0]->name);
	for (size_t i = 0; i < src->n; i++) {
		const struct inv_entry *a = src->v[i];
		struct inv_entry *b = state_upsert(dst, a->kind, a->name);

		inv_set(&b->bucket_name, a->bucket_name);
		inv_set(&b->jurisdiction, a->jurisdiction);
		inv_set(&b->location_hint, a->location_hint);
		inv_set(&b->kv_id, a->kv_id);
		inv_set(&b->title, a->title);
		inv_set(&b->condition, a->condition);
		inv_set(&b->updated, a->updated);
		b->policy = a->policy;
		b->origin = a->origin;
		b->pending = a->pending;
		b->managed_lifecycle = a->managed_lifecycle;
		b->managed_cors = a->managed_cors;
		memcpy(b->spec_hash, a->spec_hash, sizeof(b->spec_hash));
	}
	for (size_t i = 0; i < src->nsecrets; i++)
		state_ledger_replace(dst, src->secrets[i]);
}

int
cli_cmd_state(const struct cli_opts *o)
{
	const char *sub = o->nargs ? o->args[0] : NULL;
	const char *path = o->state ? o->state : o->local ? SESSION_LOCAL_DIR "/state.json"
	                                                  : STATE_DEFAULT_PATH;
	struct session s;
	struct state *st = NULL, *dst = NULL;
	int s_open = 0, rc = EXIT_ERROR;
	struct err e;

	memset(&s, 0, sizeof(s));
	err_clear(&e);
	if (sub == NULL || o->nargs > 1)
		return cli_fail("state needs one of: show, unlock --force, migrate --to URL");
	if (strcmp(sub, "show") == 0) {
		char *lock = NULL;
		int expired = 0;

		if (open_one(o, &s, &s_open, path, 0, &st, &e) != ERR_OK) {
			rc = cli_fail("%s", e.msg);
			goto out;
		}
		if (st->r2 && state_r2_lock_info(st, &lock, &expired, &e) != ERR_OK) {
			rc = cli_fail("%s", e.msg);
			goto out;
		}
		if (lock && lock[0] && expired) {
			char *l2 = xasprintf("%s, expired", lock);

			free(lock);
			lock = l2;
		}
		show(st, lock);
		free(lock);
		rc = EXIT_OK;
	} else if (strcmp(sub, "unlock") == 0) {
		if (!o->force) {
			rc = cli_fail("state unlock breaks a lock another run may hold: add --force");
			goto out;
		}
		if (!state_is_r2(path)) {
			rc = cli_fail("state '%s' needs no unlock: a file's lock is released by the kernel "
			              "when its holder exits, an etcd lease expires by itself", path);
			goto out;
		}
		if (open_one(o, &s, &s_open, path, 0, &st, &e) != ERR_OK ||
		    state_r2_force_unlock(st, &e) != ERR_OK) {
			rc = cli_fail("%s", e.msg);
			goto out;
		}
		fprintf(stderr, "cfstorage: the lock of '%s' was removed\n", path);
		rc = EXIT_OK;
	} else if (strcmp(sub, "migrate") == 0) {
		if (o->to == NULL) {
			rc = cli_fail("state migrate needs --to URL (a path, etcd://... or r2://BUCKET/KEY)");
			goto out;
		}
		if (strcmp(o->to, path) == 0) {
			rc = cli_fail("state migrate: --to names the state itself");
			goto out;
		}
		if (open_one(o, &s, &s_open, path, 1, &st, &e) != ERR_OK ||
		    open_one(o, &s, &s_open, o->to, 1, &dst, &e) != ERR_OK) {
			rc = cli_fail("%s", e.msg);
			goto out;
		}
		if ((dst->n || dst->nsecrets) && !o->force) {
			rc = cli_fail("state '%s' already holds %zu resource%s and %zu secret ledger%s; "
			              "not overwriting it without --force", o->to, dst->n,
			              dst->n == 1 ? "" : "s", dst->nsecrets, dst->nsecrets == 1 ? "" : "s");
			goto out;
		}
		copy_state(dst, st);
		if (state_save(dst, &e) != ERR_OK) {
			rc = cli_fail("%s", e.msg);
			goto out;
		}
		fprintf(stderr, "cfstorage: migrated %zu resource%s and %zu secret ledger%s from '%s' "
		        "to '%s' (the source is kept)\n", st->n, st->n == 1 ? "" : "s", st->nsecrets,
		        st->nsecrets == 1 ? "" : "s", path, o->to);
		rc = EXIT_OK;
	} else {
		rc = cli_fail("unknown state command '%.32s' (show, unlock, migrate)", sub);
	}
out:
	state_close(dst);
	state_close(st);
	if (s_open)
		session_release(&s);
	return rc;
}
