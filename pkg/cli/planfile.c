/*
 * Saved plans: `cfstorage plan -out FILE` and `cfstorage apply FILE`, the way
 * a pull request's reviewed plan becomes the merge's apply.
 *
 * The file (JSON, mode 0600, replaced atomically) holds what the plan was
 * made from and what it relied on, never a value: the manifest paths and the
 * SHA-256 of their contents, the plan's time and options, and for every
 * action its kind, name, op and fingerprint (plan_fingerprint: the action's
 * changes and what the account showed of its resource). `apply FILE` loads
 * the same paths, refuses if their contents changed, observes and plans
 * again with the same time and options, and applies only if every action and
 * fingerprint is the same; otherwise it names what changed and writes nothing.
 */
#include <cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../mem/mem.h"
#include "../reconcile/reconcile.h"
#include "../report/report.h"
#include "../session/session.h"
#include "../timefmt/timefmt.h"
#include "cli.h"

/* A saved plan is small: a few hundred bytes an action. */
#define PLANFILE_MAX (16u * 1024 * 1024)
#define PLANFILE_VERSION 1

static void
hex(const unsigned char *md, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* Writes FILE through a temporary file and rename, mode 0600. */
static int
write_file(const char *path, const char *data)
{
	char *tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600), rc = EXIT_OK;
	size_t len = strlen(data), off = 0;

	if (fd < 0) {
		rc = cli_fail("cannot write the plan to '%s': %s", path, strerror(errno));
		free(tmp);
		return rc;
	}
	while (off < len) {
		ssize_t n = write(fd, data + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	if (off < len || fsync(fd) != 0 || close(fd) != 0 || rename(tmp, path) != 0) {
		rc = cli_fail("cannot write the plan to '%s': %s", path, strerror(errno));
		unlink(tmp);
	}
	free(tmp);
	return rc;
}

int
cli_plan_save(const char *path, const struct cli_opts *o, const struct session *s,
              const struct reconcile_result *r)
{
	cJSON *root = cJSON_CreateObject(), *paths, *acts;
	unsigned char md[32];
	char mhex[65], ts[32];
	char *text;
	int rc;

	manifest_set_fingerprint(&s->set, md);
	hex(md, sizeof(md), mhex);
	timefmt_format(s->now, ts, sizeof(ts));
	cJSON_AddNumberToObject(root, "cfstoragePlan", PLANFILE_VERSION);
	cJSON_AddStringToObject(root, "now", ts);
	cJSON_AddBoolToObject(root, "prune", o->prune);
	cJSON_AddBoolToObject(root, "allowEmpty", o->allow_empty);
	cJSON_AddStringToObject(root, "manifests", mhex);
	paths = cJSON_AddArrayToObject(root, "paths");
	for (size_t i = 0; i < o->npaths; i++)
		cJSON_AddItemToArray(paths, cJSON_CreateString(o->paths[i]));
	acts = cJSON_AddArrayToObject(root, "actions");
	for (size_t i = 0; i < r->plan.n; i++) {
		const struct plan_action *a = &r->plan.v[i];
		cJSON *x = cJSON_CreateObject();
		char fp[65];

		plan_fingerprint(a, &r->snap, fp);
		cJSON_AddStringToObject(x, "kind", kind_name(a->kind));
		cJSON_AddStringToObject(x, "name", a->name);
		cJSON_AddStringToObject(x, "op", plan_op_name(a->op));
		cJSON_AddStringToObject(x, "fingerprint", fp);
		cJSON_AddItemToArray(acts, x);
	}
	text = cJSON_Print(root);
	cJSON_Delete(root);
	rc = write_file(path, text);
	free(text);
	return rc;
}

/* Reads a saved plan: a regular file, JSON, our version. */
static int
load(const char *path, cJSON **out)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	char *data;
	ssize_t n;
	const char *end;
	cJSON *ver;

	if (fd < 0)
		return cli_fail("cannot open the saved plan '%s': %s", path, strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > PLANFILE_MAX) {
		close(fd);
		return cli_fail("'%s' is not a saved plan (a regular file of at most %u bytes)", path,
		                PLANFILE_MAX);
	}
	data = xmalloc((size_t)st.st_size + 1);
	n = read(fd, data, (size_t)st.st_size);
	close(fd);
	if (n != st.st_size) {
		free(data);
		return cli_fail("cannot read the saved plan '%s'", path);
	}
	data[n] = '\0';
	*out = cJSON_ParseWithLengthOpts(data, (size_t)n + 1, &end, 1);
	free(data);
	ver = cJSON_GetObjectItemCaseSensitive(*out, "cfstoragePlan");
	if (!cJSON_IsNumber(ver) || ver->valueint != PLANFILE_VERSION ||
	    !cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(*out, "actions")) ||
	    !cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(*out, "paths")) ||
	    !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(*out, "manifests")) ||
	    !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(*out, "now"))) {
		cJSON_Delete(*out);
		*out = NULL;
		return cli_fail("'%s' is not a saved plan of this cfstorage (plan -out FILE)", path);
	}
	return EXIT_OK;
}

struct check {
	const cJSON *acts;
	int stale;
};

/* accept(): the plan made now must be the saved one, action for action. */
static int
same_plan(const struct plan *p, const struct snapshot *snap, void *user)
{
	struct check *c = user;
	size_t n = (size_t)cJSON_GetArraySize(c->acts);

	for (size_t i = 0; i < p->n; i++) {
		const struct plan_action *a = &p->v[i];
		const cJSON *x = i < n ? cJSON_GetArrayItem(c->acts, (int)i) : NULL;
		const char *fp = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(x, "fingerprint"));
		const char *op = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(x, "op"));
		const char *nm = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(x, "name"));
		char now[65];

		plan_fingerprint(a, snap, now);
		if (x == NULL || !fp || !op || !nm || strcmp(nm, a->name) != 0 ||
		    strcmp(op, plan_op_name(a->op)) != 0 || strcmp(fp, now) != 0) {
			cli_fail("%s %s: the account or the plan changed since the plan was saved "
			         "(now: %s)", kind_name(a->kind), a->name, plan_op_name(a->op));
			c->stale++;
		}
	}
	if (p->n != n) {
		cli_fail("the plan now has %zu actions, the saved one %zu", p->n, n);
		c->stale++;
	}
	return c->stale;
}

int
cli_apply_saved(const struct cli_opts *o, const char *path)
{
	struct cli_opts so = *o;
	struct cli_job j;
	struct check chk = { NULL, 0 };
	cJSON *plan = NULL, *it;
	unsigned char md[32];
	char mhex[65];
	int rc;

	if (o->npaths || o->now || o->prune || o->allow_empty)
		return cli_fail("apply FILE takes the manifests, time and options the plan was "
		                "made with: drop -f, --now, --prune and --allow-empty");
	if ((rc = load(path, &plan)) != EXIT_OK)
		return rc;
	so.npaths = 0;
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(plan, "paths"))
		if (cJSON_IsString(it) && so.npaths < CLI_MAX_PATHS)
			so.paths[so.npaths++] = it->valuestring;
	so.now = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(plan, "now"));
	so.prune = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(plan, "prune"));
	so.allow_empty = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(plan, "allowEmpty"));
	so.force = 0; /* not one of the options a plan is saved with */
	if ((rc = cli_job_open(&j, &so, RECONCILE_APPLY, 1, 1)) != EXIT_OK)
		goto out;
	manifest_set_fingerprint(&j.c.set, md);
	hex(md, sizeof(md), mhex);
	if (strcmp(mhex, cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(plan, "manifests")))) {
		rc = cli_fail("the manifests changed since '%s' was planned: plan again", path);
		goto out;
	}
	chk.acts = cJSON_GetObjectItemCaseSensitive(plan, "actions");
	j.ro.accept = same_plan;
	j.ro.accept_user = &chk;
	cli_live_wire(o, j.c.api, &j.ro, 0); /* the plan was reviewed: no question */
	if ((rc = cli_pass(&j.c, &j.ro, &j.r)) != EXIT_OK)
		goto out;
	if (j.r.rejected) {
		rc = cli_fail("'%s' is stale: nothing was applied; run plan again", path);
		goto out;
	}
	cli_job_report(&j);
	rc = cli_apply_exit(&j.r);
out:
	rc = cli_job_close(&j, rc);
	cJSON_Delete(plan); /* after the session: its paths point into the plan */
	return rc;
}
