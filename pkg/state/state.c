#include "state.h"

#include <cJSON.h>
#include <stdatomic.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../etcd/etcd.h"
#include "renew.h"
#include "state_int.h"
#include "state_r2.h"
#include "../log/log.h"
#include "../mem/mem.h"
#include "../timefmt/timefmt.h"

struct state_etcd {
	struct etcd *c, *ka_c;   /* one client per thread: curl handles are not shared */
	char *leader_key, *state_key;
	char ident[160];
	int64_t lease;
	int leader;
	atomic_int lost;
	struct renewer ka;       /* renews the lease (keepalive) */
	int64_t last_ok;         /* when the last renewal that succeeded was sent */
};

static void
strs_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void
ledger_free(struct sec_ledger *l)
{
	if (l == NULL)
		return;
	for (size_t i = 0; i < l->n; i++)
		strs_free(l->v[i].targets, l->v[i].ntargets);
	free(l->v);
	strs_free(l->targets, l->ntargets);
	free(l->name);
	free(l);
}

static char **
strs_clone(char *const *v, size_t n)
{
	char **out = xcalloc(n + 1, sizeof(*out));

	for (size_t i = 0; i < n; i++)
		out[i] = xstrdup(v[i]);
	return out;
}

struct sec_ledger *
ledger_clone(const struct sec_ledger *l)
{
	struct sec_ledger *c = xcalloc(1, sizeof(*c));

	c->name = xstrdup(l->name);
	c->policy = l->policy;
	c->alias = l->alias;
	c->targets = strs_clone(l->targets, l->ntargets);
	c->ntargets = l->ntargets;
	c->v = xcalloc(l->n + 1, sizeof(*c->v));
	c->n = l->n;
	for (size_t i = 0; i < l->n; i++) {
		c->v[i] = l->v[i];
		c->v[i].targets = strs_clone(l->v[i].targets, l->v[i].ntargets);
	}
	return c;
}

void
state_ledger_replace(struct state *st, const struct sec_ledger *l)
{
	for (size_t i = 0; i < st->nsecrets; i++)
		if (strcmp(st->secrets[i]->name, l->name) == 0) {
			ledger_free(st->secrets[i]);
			st->secrets[i] = ledger_clone(l);
			return;
		}
	st->secrets = xrealloc(st->secrets, (st->nsecrets + 1) * sizeof(*st->secrets));
	st->secrets[st->nsecrets++] = ledger_clone(l);
}

const char *
vstatus_name(enum vstatus s)
{
	switch (s) {
	case V_PENDING: return "pending";
	case V_CURRENT: return "current";
	case V_PREVIOUS: return "previous";
	case V_RETAINED: return "retained";
	case V_DESTROYED: return "destroyed";
	}
	return "?";
}

struct sec_ledger *
state_ledger(const struct state *st, const char *name)
{
	for (size_t i = 0; i < st->nsecrets; i++)
		if (strcmp(st->secrets[i]->name, name) == 0)
			return st->secrets[i];
	return NULL;
}

struct sec_ledger *
state_ledger_upsert(struct state *st, const char *name)
{
	struct sec_ledger *l = state_ledger(st, name);

	if (l)
		return l;
	st->secrets = xrealloc(st->secrets, (st->nsecrets + 1) * sizeof(*st->secrets));
	l = xcalloc(1, sizeof(*l));
	l->name = xstrdup(name);
	st->secrets[st->nsecrets++] = l;
	return l;
}

void
state_ledger_remove(struct state *st, const char *name)
{
	for (size_t i = 0; i < st->nsecrets; i++) {
		if (strcmp(st->secrets[i]->name, name) == 0) {
			ledger_free(st->secrets[i]);
			memmove(&st->secrets[i], &st->secrets[i + 1],
			        (st->nsecrets - i - 1) * sizeof(*st->secrets));
			st->nsecrets--;
			return;
		}
	}
}

struct sec_version *
ledger_find(struct sec_ledger *l, unsigned n)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].n == n)
			return &l->v[i];
	return NULL;
}

/* Keeps versions in ascending order (rebuild may add them in any order). */
struct sec_version *
ledger_add(struct sec_ledger *l, unsigned n, int64_t created)
{
	size_t i = l->n;

	l->v = xrealloc(l->v, (l->n + 1) * sizeof(*l->v));
	while (i > 0 && l->v[i - 1].n > n) {
		l->v[i] = l->v[i - 1];
		i--;
	}
	memset(&l->v[i], 0, sizeof(l->v[i]));
	l->v[i].n = n;
	l->v[i].created = created;
	l->n++;
	return &l->v[i];
}

void
ledger_add_target(char ***v, size_t *n, const char *t)
{
	for (size_t i = 0; i < *n; i++)
		if (strcmp((*v)[i], t) == 0)
			return;
	*v = xrealloc(*v, (*n + 1) * sizeof(**v));
	(*v)[(*n)++] = xstrdup(t);
}

void
inv_set(char **field, const char *s)
{
	char *n = s ? xstrdup(s) : NULL;

	free(*field);
	*field = n;
}

struct inv_migration *
inv_migration_find(const struct inv_entry *x, const char *name)
{
	for (size_t i = 0; x && i < x->nmigs; i++)
		if (strcmp(x->migs[i].name, name) == 0)
			return &x->migs[i];
	return NULL;
}

void
inv_migration_add(struct inv_entry *x, const char *name, const char *hash,
                  enum mig_origin origin)
{
	struct inv_migration *m = inv_migration_find(x, name);

	if (m == NULL) {
		x->migs = xrealloc(x->migs, (x->nmigs + 1) * sizeof(*x->migs));
		m = &x->migs[x->nmigs++];
		m->name = xstrdup(name);
	}
	snprintf(m->hash, sizeof(m->hash), "%s", hash);
	m->origin = origin;
}

void
inv_entry_release(struct inv_entry *e)
{
	for (size_t i = 0; i < e->nmigs; i++)
		free(e->migs[i].name);
	free(e->migs);
	free(e->db_name);
	free(e->migrations_table);
	free(e->name);
	free(e->bucket_name);
	free(e->jurisdiction);
	free(e->location_hint);
	free(e->kv_id);
	free(e->title);
	free(e->condition);
	free(e->updated);
	memset(e, 0, sizeof(*e));
}

/*
 * The directory holding path, as a new string (free it): "." for a bare file
 * name, "/" for a file in the root. Not dirname(3): glibc's returns a
 * read-only static "." for a bare name, which make_parent would write into.
 */
static char *
parent_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		return xstrdup(".");
	while (slash > path && slash[-1] == '/')
		slash--; /* "a//b" is in "a" */
	if (slash == path)
		return xstrdup("/");
	return xstrndup(path, (size_t)(slash - path));
}

/* mkdir -p for the directory holding path, mode 0700. */
static int
make_parent(const char *path)
{
	char *dir = parent_of(path), *p;
	int rc = 0;

	for (p = dir + 1; ; p++) {
		if (*p == '/' || *p == '\0') {
			char c = *p;

			*p = '\0';
			if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
				rc = -1;
				break;
			}
			*p = c;
			if (c == '\0')
				break;
		}
	}
	free(dir);
	return rc;
}

static const char *
kind_key(enum kind k)
{
	return kind_name(k);
}

static enum kind
kind_from(const char *s)
{
	if (s && strcmp(s, "R2Bucket") == 0)
		return KIND_R2BUCKET;
	if (s && strcmp(s, "KVNamespace") == 0)
		return KIND_KVNAMESPACE;
	if (s && strcmp(s, "Secret") == 0)
		return KIND_SECRET;
	if (s && strcmp(s, "D1Database") == 0)
		return KIND_D1DATABASE;
	return 0;
}

static const char *
origin_name(enum inv_origin o)
{
	return o == ORIGIN_ADOPTED ? "adopted" : o == ORIGIN_IMPORTED ? "imported" : "created";
}

static char *
jdup(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsString(v) ? xstrdup(v->valuestring) : NULL;
}

static int
jbool(const cJSON *o, const char *k)
{
	return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, k));
}

/* A D1Database's applied migrations: [{name, hash, origin}], in order. */
static int
parse_migrations(struct inv_entry *x, const cJSON *arr)
{
	const cJSON *it;

	if (arr == NULL)
		return 0;
	if (!cJSON_IsArray(arr))
		return -1;
	cJSON_ArrayForEach(it, arr) {
		const char *n = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "name"));
		const char *h = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "hash"));
		const char *o = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "origin"));

		if (n == NULL || h == NULL || strlen(h) != 16 || inv_migration_find(x, n))
			return -1;
		inv_migration_add(x, n, h, o && strcmp(o, "found") == 0 ? MIG_FOUND : MIG_APPLIED);
	}
	return 0;
}

/* The inventory: every owned resource; the first bad one makes the file corrupt. */
static enum errcode
parse_resources(struct state *st, const cJSON *res, struct err *e)
{
	const cJSON *it;

	cJSON_ArrayForEach(it, res) {
		enum kind k = kind_from(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "kind")));
		char *name = jdup(it, "name"), *pol, *org, *hash;
		struct inv_entry *x;

		if (!k || !name) {
			free(name);
			return err_set(e, ERR_IO, "state file '%s' is corrupt (a resource without "
			               "kind or name); not overwriting it", st->path);
		}
		if (state_find(st, k, name)) {
			char shown[80];

			snprintf(shown, sizeof(shown), "%.64s", name);
			free(name);
			return err_set(e, ERR_IO, "state file '%s' is corrupt (%s '%s' twice); not "
			               "overwriting it", st->path, kind_name(k), shown);
		}
		x = state_upsert(st, k, name);
		free(name);
		x->bucket_name = jdup(it, "bucketName");
		x->jurisdiction = jdup(it, "jurisdiction");
		if (k == KIND_R2BUCKET && x->jurisdiction == NULL)
			x->jurisdiction = xstrdup("default"); /* older or hand-edited files */
		x->location_hint = jdup(it, "locationHint");
		x->kv_id = jdup(it, "id");
		x->title = jdup(it, "title");
		pol = jdup(it, "deletionPolicy");
		x->policy = pol && strcmp(pol, "Delete") == 0 ? DELETION_DELETE : DELETION_RETAIN;
		free(pol);
		org = jdup(it, "origin");
		x->origin = org && !strcmp(org, "adopted") ? ORIGIN_ADOPTED
		          : org && !strcmp(org, "imported") ? ORIGIN_IMPORTED : ORIGIN_CREATED;
		free(org);
		x->pending = jbool(it, "pending");
		x->managed_lifecycle = jbool(it, "managedLifecycle");
		x->managed_cors = jbool(it, "managedCors");
		hash = jdup(it, "specHash");
		snprintf(x->spec_hash, sizeof(x->spec_hash), "%s", hash ? hash : "");
		free(hash);
		x->condition = jdup(it, "condition");
		x->updated = jdup(it, "updated");
		x->db_name = jdup(it, "databaseName");
		x->allow_data_loss = jbool(it, "allowDataLoss");
		x->migrations_table = jdup(it, "migrationsTable");
		if (parse_migrations(x, cJSON_GetObjectItemCaseSensitive(it, "migrations")) != 0)
			return err_set(e, ERR_IO, "state file '%s' is corrupt (a migration of %s '%.64s' "
			               "without a name or hash); not overwriting it", st->path,
			               kind_name(k), x->name);
	}
	return ERR_OK;
}

/* The secret ledgers: versions with their fingerprints, never a value. */
static enum errcode
parse_secrets(struct state *st, const cJSON *sec, struct err *e)
{
	const cJSON *it;

	cJSON_ArrayForEach(it, sec) {
		struct sec_ledger *l;
		const cJSON *vs, *v, *ts, *t;
		char *pol;

		if (!cJSON_IsObject(it) || it->string == NULL) {
			return err_set(e, ERR_IO, "state file '%s' is corrupt (a bad secret ledger); "
			               "not overwriting it", st->path);
		}
		l = state_ledger_upsert(st, it->string);
		pol = jdup(it, "deletionPolicy");
		l->policy = pol && strcmp(pol, "Delete") == 0 ? DELETION_DELETE : DELETION_RETAIN;
		free(pol);
		l->alias = jbool(it, "alias");
		ts = cJSON_GetObjectItemCaseSensitive(it, "targets");
		cJSON_ArrayForEach(t, ts)
			if (cJSON_IsString(t))
				ledger_add_target(&l->targets, &l->ntargets, t->valuestring);
		vs = cJSON_GetObjectItemCaseSensitive(it, "versions");
		cJSON_ArrayForEach(v, vs) {
			const cJSON *num = cJSON_GetObjectItemCaseSensitive(v, "version");
			char *created = jdup(v, "created"), *cur = jdup(v, "currentAt");
			char *status = jdup(v, "status"), *fp = jdup(v, "fingerprint");
			int64_t ct = 0, ca = 0;
			struct sec_version *x;

			if (!cJSON_IsNumber(num) || num->valueint < 1 || !created ||
			    timefmt_parse_rfc3339(created, &ct) != 0) {
				free(created); free(cur); free(status); free(fp);
					return err_set(e, ERR_IO, "state file '%s' is corrupt (a bad secret "
				               "version); not overwriting it", st->path);
			}
			if (cur)
				(void)timefmt_parse_rfc3339(cur, &ca);
			x = ledger_add(l, (unsigned)num->valueint, ct);
			x->current_at = ca;
			x->published = jbool(v, "published");
			for (int s = V_PENDING; s <= V_DESTROYED; s++)
				if (status && strcmp(status, vstatus_name((enum vstatus)s)) == 0)
					x->status = (enum vstatus)s;
			snprintf(x->fp, sizeof(x->fp), "%s", fp ? fp : "");
			ts = cJSON_GetObjectItemCaseSensitive(v, "targets");
			cJSON_ArrayForEach(t, ts)
				if (cJSON_IsString(t))
					ledger_add_target(&x->targets, &x->ntargets, t->valuestring);
			free(created); free(cur); free(status); free(fp);
		}
	}
	return ERR_OK;
}

static enum errcode
parse(struct state *st, const char *data, size_t len, struct err *e)
{
	const char *end;
	cJSON *root, *ver;
	enum errcode rc;

	/* an empty file holds nothing that could be lost: an empty state (the
	 * account is the truth; secret ledgers are rebuilt from it) */
	if (strspn(data, " \t\r\n") == len)
		return ERR_OK;
	root = cJSON_ParseWithLengthOpts(data, len + 1, &end, 1);
	if (root == NULL || !cJSON_IsObject(root)) {
		cJSON_Delete(root);
		return err_set(e, ERR_IO, "state file '%s' is corrupt (not a JSON object); "
		               "not overwriting it: restore it from a backup or move it away",
		               st->path);
	}
	ver = cJSON_GetObjectItemCaseSensitive(root, "schemaVersion");
	if (!cJSON_IsNumber(ver)) {
		cJSON_Delete(root);
		return err_set(e, ERR_IO, "state file '%s' is corrupt (no schemaVersion); not "
		               "overwriting it", st->path);
	}
	if (ver->valueint > STATE_VERSION) {
		int v = ver->valueint;

		cJSON_Delete(root);
		return err_set(e, ERR_IO, "state file '%s' has schema version %d, newer than "
		               "this cfstorage understands (%d); upgrade cfstorage", st->path, v,
		               STATE_VERSION);
	}
	rc = parse_resources(st, cJSON_GetObjectItemCaseSensitive(root, "resources"), e);
	if (rc == ERR_OK)
		rc = parse_secrets(st, cJSON_GetObjectItemCaseSensitive(root, "secrets"), e);
	cJSON_Delete(root);
	return rc;
}


static enum errcode parse(struct state *st, const char *data, size_t len, struct err *e);

/* Renews the leader lease (every third of its TTL); marks the state lost
 * the moment etcd says the lease is gone or cannot be reached for a whole
 * TTL. Nonzero when it gives up. */
static int
keepalive(void *arg)
{
	struct state *st = arg;
	struct state_etcd *x = st->etcd;
	int64_t ttl = 0, sent;
	struct err e;
	enum errcode rc;

	err_clear(&e);
	sent = (int64_t)time(NULL);
	rc = etcd_lease_keepalive(x->ka_c, x->lease, &ttl, &e);
	if (rc == ERR_OK && ttl > 0) {
		x->last_ok = sent; /* the lease runs from when we asked, not from the reply */
		return 0;
	}
	/* give up before the lease can have expired: a standby may win the
	 * moment it does, and two writers must never overlap */
	if (rc == ERR_OK || (int64_t)time(NULL) - x->last_ok >=
	                    STATE_ETCD_LEASE_TTL - ETCD_TIMEOUT_MS / 1000 - 1) {
		atomic_store(&x->lost, 1);
		log_warn("leadership lost: no more writes", "state=\"%s\"", st->path);
		return 1;
	}
	return 0;
}

static void
clear_data(struct state *st)
{
	for (size_t i = 0; i < st->n; i++) {
		inv_entry_release(st->v[i]);
		free(st->v[i]);
	}
	free(st->v);
	st->v = NULL;
	st->n = 0;
	for (size_t i = 0; i < st->nsecrets; i++)
		ledger_free(st->secrets[i]);
	free(st->secrets);
	st->secrets = NULL;
	st->nsecrets = 0;
}

enum errcode
state_campaign(struct state *st, struct err *e)
{
	struct state_etcd *x = st->etcd;
	enum errcode rc;
	int won = 0;
	char *data = NULL;
	size_t len = 0;

	if (st->r2)
		return state_r2_campaign(st, e);
	if (x == NULL || (x->leader && !atomic_load(&x->lost)))
		return ERR_OK;
	renewer_stop(&x->ka);
	x->leader = 0;
	atomic_store(&x->lost, 0);
	if ((rc = etcd_lease_grant(x->c, STATE_ETCD_LEASE_TTL, &x->lease, e)) != ERR_OK)
		return rc;
	if ((rc = etcd_create(x->c, x->leader_key, x->ident, x->lease, &won, e)) != ERR_OK)
		return rc;
	if (!won) {
		char *holder = NULL;
		size_t hl;
		struct err e2;

		if (etcd_lease_revoke(x->c, x->lease, &e2) != ERR_OK) {
			/* best effort: the lease expires within its TTL anyway */
		}
		if (etcd_get(x->c, x->leader_key, &holder, &hl, NULL, &e2) != ERR_OK)
			holder = NULL;
		rc = err_set(e, ERR_CONFLICT, "state '%s' is locked by another cfstorage (%s)",
		             st->path, holder ? holder : "unknown holder");
		free(holder);
		return rc;
	}
	x->leader = 1;
	clear_data(st);
	rc = etcd_get(x->c, x->state_key, &data, &len, NULL, e);
	if (rc == ERR_NOTFOUND) {
		rc = ERR_OK; /* a first run */
		err_clear(e);
	} else if (rc == ERR_OK) {
		rc = parse(st, data, len, e);
	}
	free(data);
	if (rc != ERR_OK) {
		struct err e2;

		if (etcd_lease_revoke(x->c, x->lease, &e2) != ERR_OK) {
			/* best effort: the lease expires within its TTL anyway */
		}
		x->leader = 0;
		return rc;
	}
	x->last_ok = (int64_t)time(NULL);
	renewer_start(&x->ka, (long long)(STATE_ETCD_LEASE_TTL / 3) * 1000, keepalive, st);
	log_info("leader elected", "state=\"%s\"", st->path);
	return ERR_OK;
}

int
state_is_leader(const struct state *st)
{
	if (st->r2)
		return state_r2_is_leader(st);
	if (st->etcd == NULL)
		return !st->readonly;
	return st->etcd->leader && !atomic_load(&st->etcd->lost);
}

static enum errcode
open_etcd(struct state *st, int lock, struct err *e)
{
	struct state_etcd *x = xcalloc(1, sizeof(*x));
	char *prefix = NULL, host[128] = "?", ts[32];
	time_t now = time(NULL);
	struct tm tm;
	enum errcode rc;

	st->etcd = x;
	renewer_init(&x->ka);
	if ((x->c = etcd_new(st->path, &prefix, e)) == NULL)
		return e->code;
	{
		char *p2 = NULL;

		x->ka_c = etcd_new(st->path, &p2, e);
		free(p2);
	}
	x->leader_key = xasprintf("%s/leader", prefix);
	x->state_key = xasprintf("%s/state", prefix);
	free(prefix);
	gethostname(host, sizeof(host) - 1);
	gmtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	snprintf(x->ident, sizeof(x->ident), "pid %ld on host %s since %s", (long)getpid(), host,
	         ts);
	if (!lock) {
		/* read-only: the state as the leader last wrote it */
		char *data = NULL;
		size_t len = 0;

		rc = etcd_get(x->c, x->state_key, &data, &len, NULL, e);
		if (rc == ERR_NOTFOUND)
			rc = ERR_OK;
		else if (rc == ERR_OK)
			rc = parse(st, data, len, e);
		free(data);
		return rc;
	}
	rc = state_campaign(st, e);
	if (rc == ERR_CONFLICT && (lock & STATE_STANDBY)) {
		log_info("standby: another replica is the leader", "detail=\"%s\"", e->msg);
		err_clear(e);
		return ERR_OK;
	}
	return rc;
}

enum errcode
state_open(const char *path, int lock, struct state **out, struct err *e)
{
	struct state *st = xcalloc(1, sizeof(*st));
	struct stat sb;
	enum errcode rc = ERR_OK;
	int fd;

	st->path = xstrdup(path);
	st->lock_fd = -1;
	st->readonly = !lock;
	*out = st;
	if (strncmp(path, "etcd://", 7) == 0 || strncmp(path, "etcds://", 8) == 0)
		return open_etcd(st, lock, e);
	if (state_is_r2(path))
		return err_set(e, ERR_INVALID, "state '%s' needs R2 credentials: it is opened "
		               "through a session", path);
	if (lock) {
		char *lp = xasprintf("%s.lock", path), info[256], host[128] = "?";
		ssize_t r;

		if (make_parent(path) != 0) {
			rc = err_set(e, ERR_IO, "cannot create the directory of '%s': %s", path,
			             strerror(errno));
			free(lp);
			return rc;
		}
		st->lock_fd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (st->lock_fd < 0) {
			rc = err_set(e, ERR_IO, "cannot open lock '%s': %s", lp, strerror(errno));
			free(lp);
			return rc;
		}
		if (flock(st->lock_fd, LOCK_EX | LOCK_NB) != 0) {
			r = pread(st->lock_fd, info, sizeof(info) - 1, 0);
			info[r > 0 ? r : 0] = '\0';
			info[strcspn(info, "\n")] = '\0';
			rc = err_set(e, ERR_CONFLICT, "state '%s' is locked by another cfstorage "
			             "(%s); wait for it to finish", path, info[0] ? info : "unknown holder");
			close(st->lock_fd);
			st->lock_fd = -1;
			free(lp);
			return rc;
		}
		gethostname(host, sizeof(host) - 1);
		{
			char ts[32];
			time_t now = time(NULL);
			struct tm tm;

			gmtime_r(&now, &tm);
			strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
			snprintf(info, sizeof(info), "pid %ld on host %s since %s\n", (long)getpid(),
			         host, ts);
		}
		if (ftruncate(st->lock_fd, 0) != 0 ||
		    pwrite(st->lock_fd, info, strlen(info), 0) < 0) {
			/* the lock holds without the note */
		}
		free(lp);
	}
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY); /* a FIFO: no wait */
	if (fd < 0) {
		if (errno == ENOENT)
			return ERR_OK; /* a first run */
		return err_set(e, ERR_IO, "cannot read state '%s': %s", path, strerror(errno));
	}
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		return err_set(e, ERR_IO, "state '%s' is not a regular file", path);
	}
	if ((uint64_t)sb.st_size > STATE_MAX_FILE) {
		close(fd);
		return err_set(e, ERR_IO, "state file '%s' is larger than %u bytes", path,
		               STATE_MAX_FILE);
	}
	{
		char *data = xmalloc((size_t)sb.st_size + 1);
		size_t got = 0;

		while (got < (size_t)sb.st_size) {
			ssize_t r = read(fd, data + got, (size_t)sb.st_size - got);

			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				break;
			got += (size_t)r;
		}
		close(fd);
		data[got] = '\0';
		if (got != (size_t)sb.st_size)
			rc = err_set(e, ERR_IO, "cannot read state '%s'", path);
		else
			rc = parse(st, data, got, e);
		free(data);
	}
	return rc;
}

enum errcode
state_load_buffer(const char *name, const char *data, size_t len, struct state **out,
                  struct err *e)
{
	struct state *st = xcalloc(1, sizeof(*st));
	char *copy = xmalloc(len + 1);
	enum errcode rc;

	st->path = xstrdup(name);
	st->lock_fd = -1;
	st->readonly = 1;
	*out = st;
	if (len > 0)
		memcpy(copy, data, len);
	copy[len] = '\0'; /* parse() wants the terminator cJSON checks for */
	rc = parse(st, copy, len, e);
	free(copy);
	return rc;
}

static enum errcode
write_all(int fd, const char *s, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, s, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return ERR_IO;
		s += w;
		n -= (size_t)w;
	}
	return ERR_OK;
}

static char *
serialize(const struct state *st)
{
	cJSON *root = cJSON_CreateObject(), *res;
	char *s;

	cJSON_AddNumberToObject(root, "schemaVersion", STATE_VERSION);
	res = cJSON_AddArrayToObject(root, "resources");
	for (size_t i = 0; i < st->n; i++) {
		const struct inv_entry *x = st->v[i];
		cJSON *o = cJSON_CreateObject();

		cJSON_AddStringToObject(o, "kind", kind_key(x->kind));
		cJSON_AddStringToObject(o, "name", x->name);
		if (x->bucket_name)
			cJSON_AddStringToObject(o, "bucketName", x->bucket_name);
		if (x->jurisdiction)
			cJSON_AddStringToObject(o, "jurisdiction", x->jurisdiction);
		if (x->location_hint)
			cJSON_AddStringToObject(o, "locationHint", x->location_hint);
		if (x->kv_id)
			cJSON_AddStringToObject(o, "id", x->kv_id);
		if (x->title)
			cJSON_AddStringToObject(o, "title", x->title);
		if (x->db_name)
			cJSON_AddStringToObject(o, "databaseName", x->db_name);
		if (x->allow_data_loss)
			cJSON_AddBoolToObject(o, "allowDataLoss", 1);
		if (x->migrations_table)
			cJSON_AddStringToObject(o, "migrationsTable", x->migrations_table);
		if (x->kind == KIND_D1DATABASE) {
			cJSON *ms = cJSON_AddArrayToObject(o, "migrations");

			for (size_t k = 0; k < x->nmigs; k++) {
				cJSON *mo = cJSON_CreateObject();

				cJSON_AddStringToObject(mo, "name", x->migs[k].name);
				cJSON_AddStringToObject(mo, "hash", x->migs[k].hash);
				cJSON_AddStringToObject(mo, "origin", x->migs[k].origin == MIG_FOUND
				                        ? "found" : "applied");
				cJSON_AddItemToArray(ms, mo);
			}
		}
		cJSON_AddStringToObject(o, "deletionPolicy",
		                        x->policy == DELETION_DELETE ? "Delete" : "Retain");
		cJSON_AddStringToObject(o, "origin", origin_name(x->origin));
		if (x->pending)
			cJSON_AddBoolToObject(o, "pending", 1);
		if (x->managed_lifecycle)
			cJSON_AddBoolToObject(o, "managedLifecycle", 1);
		if (x->managed_cors)
			cJSON_AddBoolToObject(o, "managedCors", 1);
		if (x->spec_hash[0])
			cJSON_AddStringToObject(o, "specHash", x->spec_hash);
		if (x->condition)
			cJSON_AddStringToObject(o, "condition", x->condition);
		if (x->updated)
			cJSON_AddStringToObject(o, "updated", x->updated);
		cJSON_AddItemToArray(res, o);
	}
	if (st->nsecrets) {
		cJSON *sec = cJSON_AddObjectToObject(root, "secrets");

		for (size_t i = 0; i < st->nsecrets; i++) {
			const struct sec_ledger *l = st->secrets[i];
			cJSON *o = cJSON_AddObjectToObject(sec, l->name), *arr, *ts;

			cJSON_AddStringToObject(o, "deletionPolicy",
			                        l->policy == DELETION_DELETE ? "Delete" : "Retain");
			if (l->alias)
				cJSON_AddBoolToObject(o, "alias", 1);
			ts = cJSON_AddArrayToObject(o, "targets");
			for (size_t k = 0; k < l->ntargets; k++)
				cJSON_AddItemToArray(ts, cJSON_CreateString(l->targets[k]));
			arr = cJSON_AddArrayToObject(o, "versions");
			for (size_t j = 0; j < l->n; j++) {
				const struct sec_version *v = &l->v[j];
				cJSON *vo = cJSON_CreateObject();
				char ts1[32];

				cJSON_AddNumberToObject(vo, "version", v->n);
				timefmt_format(v->created, ts1, sizeof(ts1));
				cJSON_AddStringToObject(vo, "created", ts1);
				if (v->current_at) {
					timefmt_format(v->current_at, ts1, sizeof(ts1));
					cJSON_AddStringToObject(vo, "currentAt", ts1);
				}
				cJSON_AddStringToObject(vo, "status", vstatus_name(v->status));
				/* pending: not ours to regenerate; retained: a cut pointer
				 * phase, which the retain policy counts for nothing */
				if (v->published && (v->status == V_PENDING || v->status == V_RETAINED))
					cJSON_AddBoolToObject(vo, "published", 1);
				cJSON_AddStringToObject(vo, "fingerprint", v->fp);
				ts = cJSON_AddArrayToObject(vo, "targets");
				for (size_t k = 0; k < v->ntargets; k++)
					cJSON_AddItemToArray(ts, cJSON_CreateString(v->targets[k]));
				cJSON_AddItemToArray(arr, vo);
			}
		}
	}
	s = cJSON_Print(root);
	cJSON_Delete(root);
	return s;
}

char *
state_serialize(const struct state *st)
{
	return serialize(st);
}

enum errcode
state_save(struct state *st, struct err *e)
{
	char *tmp, *data, *copy;
	int fd, dfd;
	enum errcode rc = ERR_OK;

	if (st->readonly)
		return err_set(e, ERR_IO, "state '%s' was opened read-only", st->path);
	if (st->r2) {
		data = state_int_serialize(st);
		rc = state_r2_save(st, data, e);
		free(data);
		return rc;
	}
	if (st->etcd) {
		enum errcode rc2;

		if (!state_is_leader(st))
			return err_set(e, ERR_CONFLICT, "not the leader: the state was not written");
		data = serialize(st);
		rc2 = etcd_put_guarded(st->etcd->c, st->etcd->state_key, data, strlen(data),
		                       st->etcd->leader_key, st->etcd->ident, e);
		free(data);
		if (rc2 == ERR_CONFLICT)
			atomic_store(&st->etcd->lost, 1);
		return rc2;
	}
	data = serialize(st);
	tmp = xasprintf("%s.tmp.%ld", st->path, (long)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = err_set(e, ERR_IO, "cannot write '%s': %s", tmp, strerror(errno));
		goto out;
	}
	if (write_all(fd, data, strlen(data)) != ERR_OK || write_all(fd, "\n", 1) != ERR_OK ||
	    fsync(fd) != 0) {
		rc = err_set(e, ERR_IO, "cannot write '%s': %s", tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		goto out;
	}
	close(fd);
	if (rename(tmp, st->path) != 0) {
		rc = err_set(e, ERR_IO, "cannot replace '%s': %s", st->path, strerror(errno));
		unlink(tmp);
		goto out;
	}
	copy = parent_of(st->path);
	dfd = open(copy, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd); /* the rename itself must reach the disk */
		close(dfd);
	}
	free(copy);
out:
	free(tmp);
	free(data);
	return rc;
}

struct state *
state_new(void)
{
	struct state *st = xcalloc(1, sizeof(*st));

	st->lock_fd = -1;
	st->readonly = 1;
	st->path = xstrdup("(in memory)");
	return st;
}

void
state_close(struct state *st)
{
	if (st == NULL)
		return;
	if (st->r2)
		state_r2_close(st);
	if (st->etcd) {
		struct state_etcd *x = st->etcd;
		struct err e;

		renewer_stop(&x->ka);
		if (x->leader && !atomic_load(&x->lost))
			if (etcd_lease_revoke(x->c, x->lease, &e) != ERR_OK) {
			/* best effort: the lease expires within its TTL anyway */
		}
		etcd_free(x->c);
		etcd_free(x->ka_c);
		free(x->leader_key);
		free(x->state_key);
		renewer_destroy(&x->ka);
		free(x);
	}
	if (st->lock_fd >= 0) {
		if (ftruncate(st->lock_fd, 0) != 0) {
			/* stale holder text is harmless: the flock is what counts */
		}
		close(st->lock_fd); /* releases the flock */
	}
	clear_data(st);
	free(st->path);
	free(st);
}

struct inv_entry *
state_find(const struct state *st, enum kind k, const char *name)
{
	for (size_t i = 0; i < st->n; i++)
		if (st->v[i]->kind == k && strcmp(st->v[i]->name, name) == 0)
			return st->v[i];
	return NULL;
}

struct inv_entry *
state_upsert(struct state *st, enum kind k, const char *name)
{
	struct inv_entry *x = state_find(st, k, name);

	if (x)
		return x;
	st->v = xrealloc(st->v, (st->n + 1) * sizeof(*st->v));
	x = xcalloc(1, sizeof(*x));
	st->v[st->n++] = x;
	x->kind = k;
	x->name = xstrdup(name);
	return x;
}

void
state_remove(struct state *st, enum kind k, const char *name)
{
	struct inv_entry *x = state_find(st, k, name);
	size_t i = 0;

	if (x == NULL)
		return;
	while (st->v[i] != x)
		i++;
	inv_entry_release(x);
	free(x);
	memmove(&st->v[i], &st->v[i + 1], (st->n - i - 1) * sizeof(*st->v));
	st->n--;
}

/* ---- lent to the backends (state_int.h) ---- */

enum errcode
state_int_parse(struct state *st, const char *data, size_t len, struct err *e)
{
	return parse(st, data, len, e);
}

char *
state_int_serialize(const struct state *st)
{
	char *s = serialize(st), *out = xasprintf("%s\n", s);

	free(s);
	return out;
}

void
state_int_clear(struct state *st)
{
	clear_data(st);
}
