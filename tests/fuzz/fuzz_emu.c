/*
 * Fuzz target: cfemu's request dispatch (pkg/emu), in-process, without
 * sockets. The input is a short session of HTTP requests, each
 *
 *     METHOD SP URL LF            URL: path, optionally ?query
 *     Name: value LF              zero or more headers
 *     LF
 *     body                        up to the next separator or the end
 *
 * separated by the line "~~~" (LF "~~~" LF). Each request goes through
 * emu_dispatch as on_request builds it (path and query percent-decoded,
 * header names lower-cased), from a loopback client, so the /__emu/ admin
 * routes are reachable too. Ids the emulator generates are random, so the
 * words $NS, $STORE, $SECRET and $D1 in a path stand for the first KV
 * namespace, Secrets Store, store secret and D1 database of the model at
 * that moment. Every session
 * starts from an empty emulator. With FUZZ_EMU_TRACE set in the environment
 * each request and its status go to stderr (to check a seed does what it
 * means to).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../pkg/emu/emu_int.h"
#include "../../pkg/mem/mem.h"
#include "fuzz.h"

/* Requests per input: enough for create, fill, list, delete sequences. */
#define FUZZ_EMU_MAX_REQUESTS 16
/* A D1 query's deadline here (cfemu's is D1's 30 s): a recursive query the
 * fuzzer writes is cut short instead of timing the run out. */
#define FUZZ_EMU_D1_QUERY_MS 50
#define SEPARATOR "\n~~~\n"

static struct emu *
emu_get(void)
{
	static struct emu *e;

	if (e != NULL)
		return e;
	e = xcalloc(1, sizeof(*e));
	pthread_mutex_init(&e->mu, NULL);
	e->journal_fd = -1; /* memory only: nothing is journaled */
	e->token = xstrdup(EMU_DEFAULT_TOKEN);
	e->account_id = xstrdup(EMU_DEFAULT_ACCOUNT);
	e->rate_n = EMU_DEFAULT_RATE_N;
	e->rate_secs = EMU_DEFAULT_RATE_SECS;
	e->d1_query_ms = FUZZ_EMU_D1_QUERY_MS;
	return e;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decodes s[0..n) into a fresh string (as MHD unescapes URLs; a
 * decoded NUL ends the string, as it does for MHD's C strings). */
static char *
unescape(const char *s, size_t n)
{
	char *out = xmalloc(n + 1);
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 &&
		    hexval(s[i + 2]) >= 0) {
			out[o++] = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
			i += 2;
		} else {
			out[o++] = s[i];
		}
	}
	out[o] = '\0';
	return out;
}

static void
add_pair(struct vec *v, char *k, char *val, int lower)
{
	struct emu_kvpair *p = xcalloc(1, sizeof(*p));

	if (lower)
		for (char *c = k; *c; c++)
			if (*c >= 'A' && *c <= 'Z')
				*c = (char)(*c - 'A' + 'a');
	p->k = k;
	p->v = val;
	emu_vec_push(v, p);
}

/* The query string q[0..n): name=value pairs split on '&'. */
static void
parse_query(struct emu_req *rq, const char *q, size_t n)
{
	while (n > 0) {
		const char *amp = memchr(q, '&', n);
		size_t len = amp ? (size_t)(amp - q) : n;
		const char *eq = memchr(q, '=', len);

		if (len > 0) {
			if (eq)
				add_pair(&rq->query, unescape(q, (size_t)(eq - q)),
				         unescape(eq + 1, len - (size_t)(eq - q) - 1), 0);
			else
				add_pair(&rq->query, unescape(q, len), xstrdup(""), 0);
		}
		if (amp == NULL)
			break;
		n -= len + 1;
		q = amp + 1;
	}
}

/* Replaces the placeholder word in the (decoded) path with the id the model
 * holds now, when it holds one. */
static char *
substitute(char *path, const char *word, const char *id)
{
	char *at;

	if (id == NULL || (at = strstr(path, word)) == NULL)
		return path;
	{
		char *out = xasprintf("%.*s%s%s", (int)(at - path), path, id,
		                      at + strlen(word));

		free(path);
		return out;
	}
}

static char *
resolve(struct emu *e, char *path)
{
	const struct emu_ns *ns = e->m.namespaces.n ? e->m.namespaces.v[0] : NULL;
	const struct emu_sstore *ss = e->m.stores.n ? e->m.stores.v[0] : NULL;
	const struct emu_secret *sec = ss && ss->secrets.n ? ss->secrets.v[0] : NULL;
	const struct emu_d1 *d1 = e->m.d1s.n ? e->m.d1s.v[0] : NULL;

	path = substitute(path, "$NS", ns ? ns->id : NULL);
	path = substitute(path, "$STORE", ss ? ss->id : NULL);
	path = substitute(path, "$SECRET", sec ? sec->id : NULL);
	path = substitute(path, "$D1", d1 ? d1->uuid : NULL);
	return path;
}

/* Builds and dispatches one request from p[0..n). */
static void
one(struct emu *e, const char *p, size_t n)
{
	const char *eol = memchr(p, '\n', n), *sp, *q;
	size_t line = eol ? (size_t)(eol - p) : n, rest;
	struct emu_req rq;
	struct emu_resp rs;
	char *method, *url, *path;

	sp = memchr(p, ' ', line);
	if (sp == NULL || sp == p)
		return;
	method = xstrndup(p, (size_t)(sp - p));
	q = memchr(sp + 1, '?', line - (size_t)(sp + 1 - p));
	path = unescape(sp + 1, (size_t)((q ? q : p + line) - (sp + 1)));
	path = resolve(e, path);
	url = path;
	emu_req_init(&rq, method, url);
	free(method);
	free(url);
	if (q)
		parse_query(&rq, q + 1, (size_t)(p + line - q - 1));
	p += line;
	rest = n - line;
	if (rest > 0) { /* skip the request line's LF */
		p++;
		rest--;
	}
	/* headers up to an empty line */
	while (rest > 0) {
		const char *nl = memchr(p, '\n', rest), *colon;
		size_t len = nl ? (size_t)(nl - p) : rest;

		if (len == 0) {
			p++;
			rest--;
			break;
		}
		colon = memchr(p, ':', len);
		if (colon) {
			const char *v = colon + 1;

			while (v < p + len && *v == ' ')
				v++;
			add_pair(&rq.headers, xstrndup(p, (size_t)(colon - p)),
			         xstrndup(v, (size_t)(p + len - v)), 1);
		}
		p += len;
		rest -= len;
		if (rest > 0) {
			p++;
			rest--;
		}
	}
	rq.body = xmalloc(rest + 1);
	if (rest > 0)
		memcpy(rq.body, p, rest);
	rq.body[rest] = '\0';
	rq.body_len = rest;
	memset(&rs, 0, sizeof(rs));
	emu_dispatch(e, &rq, &rs, 1);
	if (getenv("FUZZ_EMU_TRACE"))
		fprintf(stderr, "%s %s -> %u %.*s\n", rq.method, rq.path, rs.status,
		        rs.status / 100 == 2 ? 0 : 160, rs.body ? rs.body : "");
	if (rs.status < 100 && !rs.drop)
		abort(); /* every answer has a status */
	emu_req_release(&rq);
	free(rs.body);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct emu *e = emu_get();
	const char *p = (const char *)data, *end = p + size;

	for (int i = 0; i < FUZZ_EMU_MAX_REQUESTS && p < end; i++) {
		const char *sep = memmem(p, (size_t)(end - p), SEPARATOR, strlen(SEPARATOR));
		const char *stop = sep ? sep : end;

		one(e, p, (size_t)(stop - p));
		p = sep ? sep + strlen(SEPARATOR) : end;
	}
	pthread_mutex_lock(&e->mu);
	emu_reset_all(e);
	e->rng = 0x5eedc0de5eedc0deULL;
	pthread_mutex_unlock(&e->mu);
	return 0;
}
