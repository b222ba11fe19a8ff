#include "secret.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include "../mem/mem.h"

void
secret_no_core_dumps(void)
{
	struct rlimit rl = { 0, 0 };

	(void)setrlimit(RLIMIT_CORE, &rl);
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Encodes raw into out (which has room); returns the length. */
static size_t
encode(const unsigned char *raw, size_t n, enum secret_encoding enc, char *out)
{
	size_t o = 0;

	if (enc == SECRET_HEX) {
		static const char hex[] = "0123456789abcdef";

		for (size_t i = 0; i < n; i++) {
			out[o++] = hex[raw[i] >> 4];
			out[o++] = hex[raw[i] & 15];
		}
		return o;
	}
	{
		const char *alpha = enc == SECRET_BASE64URL ? b64url : b64;
		size_t i = 0;

		for (; i + 2 < n; i += 3) {
			uint32_t v = (uint32_t)raw[i] << 16 | (uint32_t)raw[i + 1] << 8 | raw[i + 2];

			out[o++] = alpha[v >> 18 & 63];
			out[o++] = alpha[v >> 12 & 63];
			out[o++] = alpha[v >> 6 & 63];
			out[o++] = alpha[v & 63];
		}
		if (i < n) {
			uint32_t v = (uint32_t)raw[i] << 16 | (i + 1 < n ? (uint32_t)raw[i + 1] << 8 : 0);

			out[o++] = alpha[v >> 18 & 63];
			out[o++] = alpha[v >> 12 & 63];
			if (i + 1 < n)
				out[o++] = alpha[v >> 6 & 63];
			else if (enc == SECRET_BASE64)
				out[o++] = '=';
			if (enc == SECRET_BASE64)
				out[o++] = '=';
		}
	}
	return o;
}

enum errcode
secret_generate(int64_t bytes, enum secret_encoding enc, struct secret_value **out,
                struct err *e)
{
	unsigned char raw[SECRET_BYTES_MAX];
	struct secret_value *v;
	size_t cap = 4096;
	void *p;

	*out = NULL;
	if (bytes < 1 || bytes > SECRET_BYTES_MAX)
		return err_set(e, ERR_INVALID, "secret size %lld out of range", (long long)bytes);
	if (RAND_bytes(raw, (int)bytes) != 1)
		return err_set(e, ERR_PERMANENT, "the CSPRNG failed to produce random bytes");
	p = mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		OPENSSL_cleanse(raw, sizeof(raw));
		return err_set(e, ERR_IO, "cannot map memory for a secret");
	}
	(void)madvise(p, cap, MADV_DONTDUMP);
	v = xcalloc(1, sizeof(*v));
	v->text = p;
	v->cap = cap;
	v->len = encode(raw, (size_t)bytes, enc, v->text);
	v->text[v->len] = '\0';
	OPENSSL_cleanse(raw, sizeof(raw));
	*out = v;
	return ERR_OK;
}

void
secret_value_free(struct secret_value *v)
{
	if (v == NULL)
		return;
	OPENSSL_cleanse(v->text, v->cap);
	munmap(v->text, v->cap);
	free(v);
}

void
secret_fingerprint(const struct secret_value *v, char out[17])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	EVP_Digest(v->text, v->len, md, &n, EVP_sha256(), NULL);
	for (int i = 0; i < 8; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	OPENSSL_cleanse(md, sizeof(md));
}

int64_t
secret_next_due(const struct secret_spec *s, int64_t created)
{
	int64_t period;

	if (!s->has_rotation || s->every_days <= 0)
		return INT64_MAX;
	period = s->every_days * SECRET_DAY;
	if (s->start_at == 0)
		return created + period;
	if (created < s->start_at)
		return s->start_at;
	/* the first point of the schedule strictly after created */
	return s->start_at + ((created - s->start_at) / period + 1) * period;
}

const struct sec_version *
ledger_current(const struct sec_ledger *l)
{
	for (size_t i = 0; l && i < l->n; i++)
		if (l->v[i].status == V_CURRENT)
			return &l->v[i];
	return NULL;
}

const struct sec_version *
ledger_pending(const struct sec_ledger *l)
{
	for (size_t i = 0; l && i < l->n; i++)
		if (l->v[i].status == V_PENDING)
			return &l->v[i];
	return NULL;
}

unsigned
ledger_max(const struct sec_ledger *l)
{
	unsigned m = 0;

	for (size_t i = 0; l && i < l->n; i++)
		if (l->v[i].n > m)
			m = l->v[i].n;
	return m;
}

/* A version whose pointer phase was cut: some target may have pointed at it,
 * but it never became current (kept as retained, still marked published). */
static int
half_published(const struct sec_version *v)
{
	return v->status == V_RETAINED && v->published;
}

/* 1 when version n is in out[0..k) */
static int
listed_in(const unsigned *out, size_t k, unsigned n)
{
	for (size_t i = 0; i < k; i++)
		if (out[i] == n)
			return 1;
	return 0;
}

size_t
secret_destroyable(const struct secret_spec *s, const struct sec_ledger *l, unsigned cur,
                   int64_t now, unsigned *out)
{
	size_t k = 0, kept = 0, nfull;
	unsigned prev = 0;

	if (s->retain == RETAIN_FOREVER || cur == 0)
		return 0;
	/* a version about to become current counts as the newest kept one */
	{
		const struct sec_version *c = NULL;

		for (size_t i = 0; i < l->n; i++)
			if (l->v[i].n == cur)
				c = &l->v[i];
		if (c == NULL || c->status == V_PENDING)
			kept = 1;
	}
	/* previous: the newest version below cur that was ever current */
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].n < cur && l->v[i].status != V_PENDING && l->v[i].status != V_DESTROYED &&
		    !half_published(&l->v[i]) && l->v[i].n > prev)
			prev = l->v[i].n;
	/* newest first, so "count" keeps the N newest ever-current versions */
	for (size_t i = l->n; i-- > 0;) {
		const struct sec_version *v = &l->v[i];

		if (v->n > cur || v->status == V_PENDING || v->status == V_DESTROYED ||
		    half_published(v))
			continue;
		kept++;
		if (v->n == cur || v->n == prev)
			continue;
		if (s->retain == RETAIN_COUNT && kept > (size_t)s->retain_n)
			out[k++] = v->n;
		else if (s->retain == RETAIN_DAYS && now - v->created > s->retain_n * SECRET_DAY)
			out[k++] = v->n;
	}
	/* a half-published version counts for nothing and goes with the version
	 * that replaced it (the next one that became current), never before */
	nfull = k;
	for (size_t i = 0; i < l->n; i++) {
		const struct sec_version *h = &l->v[i], *succ = NULL;

		if (h->n > cur || !half_published(h))
			continue;
		for (size_t j = 0; j < l->n; j++) {
			const struct sec_version *x = &l->v[j];

			if (x->n > h->n && x->n <= cur && x->status != V_PENDING && !half_published(x) &&
			    (succ == NULL || x->n < succ->n))
				succ = x;
		}
		if (succ && succ->n != cur &&
		    (succ->status == V_DESTROYED || listed_in(out, nfull, succ->n)))
			out[k++] = h->n;
	}
	return k;
}

char *
secret_target_id(const struct secret_target *t)
{
	if (t->kind == TARGET_SECRETS_STORE)
		return xasprintf("store:%s/%s", t->store, t->name);
	return xasprintf("script:%s/%s", t->script, t->name);
}

unsigned
secret_version_of(const char *name, const char *base)
{
	size_t bl = strlen(base);
	char *end;
	unsigned long n;

	if (strncmp(name, base, bl) != 0 || strncmp(name + bl, "_V", 2) != 0 ||
	    name[bl + 2] < '1' || name[bl + 2] > '9')
		return 0;
	n = strtoul(name + bl + 2, &end, 10);
	return *end == '\0' && n <= SECRET_MAX_VERSION ? (unsigned)n : 0;
}

char *
secret_comment_field(const char *comment, const char *key)
{
	const char *p;
	size_t kl = strlen(key);

	for (p = comment; p && (p = strstr(p, key)) != NULL; p += kl) {
		if ((p == comment || p[-1] == ' ') && p[kl] == '=')
			return xstrndup(p + kl + 1, strcspn(p + kl + 1, " "));
	}
	return NULL;
}

int
secret_comment_marks(const char *comment, const char *name)
{
	char *who;
	int yes;

	if (comment == NULL || strncmp(comment, "cfstorage ", 10) != 0)
		return 0;
	who = secret_comment_field(comment, "secret");
	yes = who && strcmp(who, name) == 0;
	free(who);
	return yes;
}

unsigned
secret_comment_current(const char *comment)
{
	char *v = comment ? secret_comment_field(comment, "current") : NULL;
	char *end = NULL;
	unsigned long n = v ? strtoul(v, &end, 10) : 0;
	unsigned out = v && end != v && *end == '\0' && n <= SECRET_MAX_VERSION ? (unsigned)n : 0;

	free(v);
	return out;
}
