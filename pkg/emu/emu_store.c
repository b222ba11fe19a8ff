/*
 * emu_store.c: the emulator's data model lifetime and its persistence.
 *
 * Persistence is an append-only journal, data_dir/journal. Every write the
 * emulator acknowledges is appended as one record and fdatasync'd before the
 * response leaves (the caller holds the mutex, so journal order is apply
 * order). On start the journal is replayed through the same handlers, with
 * the recorded emulator time and generated ids, which rebuilds exactly the
 * acknowledged state. A record is
 *     "J1 <hdrlen> <bodylen> <crc32 hex>\n" <header JSON> <body> "\n"
 * and a record that is short or fails its CRC ends the journal: it can only
 * be the tail torn by a crash, which was never acknowledged, and it is cut
 * off so later appends follow valid data.
 */
#include "emu_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "../log/log.h"
#include "../mem/mem.h"

/* Longest record header line ("J1 <n> <n> <crc>\n"). */
#define JOURNAL_LINE_MAX 64
/* Largest journal replayed (bigger means a mistake, not a test run). */
#define JOURNAL_MAX (4ull * 1024 * 1024 * 1024)
/* Headers worth journaling: those the handlers read. Never authorization. */
static const char *const journaled_headers[] = {
	"content-type", "cf-r2-jurisdiction", "cf-r2-storage-class", "if-match", "if-none-match",
};

/* ---- the model ---- */

void
emu_bucket_free(struct emu_bucket *b)
{
	free(b->name);
	free(b->jurisdiction);
	free(b->location);
	free(b->storage_class);
	free(b->creation_date);
	cJSON_Delete(b->lifecycle);
	cJSON_Delete(b->cors);
	for (size_t i = 0; i < b->objects.n; i++) {
		struct emu_object *o = b->objects.v[i];

		free(o->key);
		free(o->data);
		free(o);
	}
	free(b->objects.v);
	free(b);
}

void
emu_kv_free(struct emu_kv *kv)
{
	if (kv == NULL)
		return;
	free(kv->key);
	free(kv->value);
	free(kv->metadata);
	free(kv);
}

void
emu_secret_free(struct emu_secret *s)
{
	if (s == NULL)
		return;
	if (s->value) /* write-only bytes: do not leave them in freed memory */
		explicit_bzero(s->value, strlen(s->value));
	free(s->id);
	free(s->name);
	free(s->value);
	free(s->comment);
	free(s->created);
	free(s->modified);
	cJSON_Delete(s->scopes);
	free(s);
}

void
emu_sstore_free(struct emu_sstore *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->secrets.n; i++)
		emu_secret_free(s->secrets.v[i]);
	free(s->secrets.v);
	free(s->id);
	free(s->name);
	free(s->created);
	free(s->modified);
	free(s);
}

static void
script_free(struct emu_script *s)
{
	for (size_t i = 0; i < s->secrets.n; i++) {
		struct emu_wsecret *w = s->secrets.v[i];

		if (w->text)
			explicit_bzero(w->text, strlen(w->text));
		free(w->name);
		free(w->type);
		free(w->text);
		free(w);
	}
	free(s->secrets.v);
	free(s->name);
	free(s->created);
	free(s->modified);
	free(s);
}

/* Frees every resource in the model; the struct itself is left to zero. */
void
emu_model_release(struct emu_model *m)
{
	for (size_t i = 0; i < m->buckets.n; i++)
		emu_bucket_free(m->buckets.v[i]);
	for (size_t i = 0; i < m->tombs.n; i++) {
		struct emu_tomb *t = m->tombs.v[i];

		free(t->jurisdiction);
		free(t->name);
		free(t->location);
		free(t);
	}
	for (size_t i = 0; i < m->namespaces.n; i++) {
		struct emu_ns *ns = m->namespaces.v[i];

		for (size_t k = 0; k < ns->keys.n; k++)
			emu_kv_free(ns->keys.v[k]);
		free(ns->keys.v);
		free(ns->id);
		free(ns->title);
		free(ns);
	}
	for (size_t i = 0; i < m->stores.n; i++)
		emu_sstore_free(m->stores.v[i]);
	for (size_t i = 0; i < m->scripts.n; i++)
		script_free(m->scripts.v[i]);
	for (size_t i = 0; i < m->d1s.n; i++)
		emu_d1_free(m->d1s.v[i]);
	free(m->buckets.v);
	free(m->tombs.v);
	free(m->namespaces.v);
	free(m->stores.v);
	free(m->scripts.v);
	free(m->d1s.v);
}

/* A bucket by jurisdiction and name: names are unique per jurisdiction. */
struct emu_bucket *
emu_bucket_find(struct emu_model *m, const char *jur, const char *name)
{
	for (size_t i = 0; i < m->buckets.n; i++) {
		struct emu_bucket *b = m->buckets.v[i];

		if (strcmp(b->name, name) == 0 && strcmp(b->jurisdiction, jur) == 0)
			return b;
	}
	return NULL;
}

struct emu_script *
emu_script_find(struct emu_model *m, const char *name)
{
	for (size_t i = 0; i < m->scripts.n; i++) {
		struct emu_script *s = m->scripts.v[i];

		if (strcmp(s->name, name) == 0)
			return s;
	}
	return NULL;
}

/*
 * A fresh 32-hex id from the kernel's CSPRNG, recorded in rq->ids for the
 * journal; on replay the recorded id is handed out again instead.
 */
char *
emu_new_id(struct emu_req *rq)
{
	unsigned char raw[16];
	char hex[33];

	if (rq->replay) {
		cJSON *it = cJSON_GetArrayItem(rq->ids, (int)rq->id_next);

		rq->id_next++;
		if (cJSON_IsString(it))
			return xstrdup(it->valuestring);
	}
	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
		abort(); /* the kernel CSPRNG does not fail once booted */
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(hex + 2 * i, 3, "%02x", raw[i]);
	if (!rq->replay)
		cJSON_AddItemToArray(rq->ids, cJSON_CreateString(hex));
	return xstrdup(hex);
}

/* Decodes standard or URL-safe base64 (padding optional). NULL if invalid.
 * Free the result. */
char *
emu_base64_decode(const char *in, size_t *outlen)
{
	size_t n = strlen(in), o = 0;
	char *out = xmalloc(n / 4 * 3 + 4);
	unsigned acc = 0;
	int bits = 0;

	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)in[i], v;

		if (c >= 'A' && c <= 'Z') v = c - 'A';
		else if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
		else if (c >= '0' && c <= '9') v = c - '0' + 52;
		else if (c == '+' || c == '-') v = 62;
		else if (c == '/' || c == '_') v = 63;
		else if (c == '=') break;
		else {
			free(out);
			return NULL;
		}
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (char)((acc >> bits) & 0xff);
		}
	}
	out[o] = '\0';
	*outlen = o;
	return out;
}

/* ---- the journal ---- */

static unsigned crc_table[256];

static void
crc_init(void)
{
	for (unsigned i = 0; i < 256; i++) {
		unsigned c = i;

		for (int k = 0; k < 8; k++)
			c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
		crc_table[i] = c;
	}
}

static unsigned
crc32_update(unsigned crc, const char *p, size_t n)
{
	crc = ~crc;
	for (size_t i = 0; i < n; i++)
		crc = crc_table[(crc ^ (unsigned char)p[i]) & 0xff] ^ (crc >> 8);
	return ~crc;
}

static cJSON *
pairs_json(const struct vec *v, int headers)
{
	cJSON *arr = cJSON_CreateArray();

	for (size_t i = 0; i < v->n; i++) {
		const struct emu_kvpair *p = v->v[i];
		cJSON *pair;
		int keep = !headers;

		for (size_t k = 0; headers && k < sizeof(journaled_headers) /
		                                 sizeof(journaled_headers[0]); k++)
			keep |= strcmp(p->k, journaled_headers[k]) == 0;
		if (!keep)
			continue;
		pair = cJSON_CreateArray();
		cJSON_AddItemToArray(pair, cJSON_CreateString(p->k));
		cJSON_AddItemToArray(pair, cJSON_CreateString(p->v));
		cJSON_AddItemToArray(arr, pair);
	}
	return arr;
}

static int
write_all(int fd, struct iovec *iov, int n)
{
	while (n > 0) {
		ssize_t w = writev(fd, iov, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		while (n > 0 && (size_t)w >= iov->iov_len) {
			w -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
	return 0;
}

/*
 * Appends rq as one record and makes it durable (fdatasync) before
 * returning 0. On failure the file is cut back to where it was and -1 is
 * returned, so the caller answers 500 and the write counts as not
 * acknowledged. With no data directory it does nothing.
 */
int
emu_journal_append(struct emu *e, const struct emu_req *rq)
{
	cJSON *h;
	char *hdr, line[JOURNAL_LINE_MAX];
	const char *body = rq->journal_body ? rq->journal_body : rq->body;
	size_t blen = rq->journal_body ? strlen(rq->journal_body) : rq->body_len;
	unsigned crc;
	off_t before;
	struct iovec iov[4];
	int rc = 0;

	if (e->journal_fd < 0)
		return 0;
	h = cJSON_CreateObject();
	cJSON_AddStringToObject(h, "m", rq->method);
	cJSON_AddStringToObject(h, "p", rq->path);
	cJSON_AddItemToObject(h, "q", pairs_json(&rq->query, 0));
	cJSON_AddItemToObject(h, "h", pairs_json(&rq->headers, 1));
	cJSON_AddNumberToObject(h, "now", (double)rq->now);
	cJSON_AddItemReferenceToObject(h, "ids", rq->ids);
	hdr = cJSON_PrintUnformatted(h);
	cJSON_Delete(h);
	crc = crc32_update(crc32_update(0, hdr, strlen(hdr)), body, blen);
	snprintf(line, sizeof(line), "J1 %zu %zu %08x\n", strlen(hdr), blen, crc);
	iov[0] = (struct iovec){ line, strlen(line) };
	iov[1] = (struct iovec){ hdr, strlen(hdr) };
	iov[2] = (struct iovec){ (void *)body, blen };
	iov[3] = (struct iovec){ "\n", 1 };
	before = lseek(e->journal_fd, 0, SEEK_END);
	if (write_all(e->journal_fd, iov, 4) != 0 || fdatasync(e->journal_fd) != 0) {
		log_error("journal write failed", "dir=\"%s\" errno=%d", e->data_dir, errno);
		if (before >= 0 && ftruncate(e->journal_fd, before) != 0)
			log_error("journal truncate failed", "errno=%d", errno);
		rc = -1;
	}
	free(hdr);
	return rc;
}

/* Empties the journal (POST /__emu/reset drops all data). */
void
emu_journal_truncate(struct emu *e)
{
	if (e->journal_fd < 0)
		return;
	if (ftruncate(e->journal_fd, 0) != 0 || fdatasync(e->journal_fd) != 0)
		log_error("journal truncate failed", "errno=%d", errno);
}

void
emu_journal_close(struct emu *e)
{
	if (e->journal_fd >= 0)
		close(e->journal_fd);
	e->journal_fd = -1;
}

static void
pairs_load(struct vec *v, const cJSON *arr)
{
	const cJSON *pair;

	cJSON_ArrayForEach(pair, arr) {
		const cJSON *k = cJSON_GetArrayItem(pair, 0), *val = cJSON_GetArrayItem(pair, 1);
		struct emu_kvpair *p;

		if (!cJSON_IsString(k) || !cJSON_IsString(val))
			continue;
		p = xcalloc(1, sizeof(*p));
		p->k = xstrdup(k->valuestring);
		p->v = xstrdup(val->valuestring);
		emu_vec_push(v, p);
	}
}

/*
 * Parses one record at data[off..len). Returns its total length, or 0 when
 * the bytes there are not a whole valid record (the torn tail).
 */
static size_t
record_parse(const char *data, size_t len, size_t off, struct emu_req *rq)
{
	const char *p = data + off, *nl;
	unsigned long long hl, bl;
	unsigned long crc;
	char *end;
	size_t head;
	cJSON *h;
	const char *jend;
	const cJSON *m, *path, *now;

	nl = memchr(p, '\n', len - off < JOURNAL_LINE_MAX ? len - off : JOURNAL_LINE_MAX);
	if (nl == NULL || strncmp(p, "J1 ", 3) != 0)
		return 0;
	errno = 0;
	hl = strtoull(p + 3, &end, 10);
	if (*end != ' ')
		return 0;
	bl = strtoull(end + 1, &end, 10);
	if (*end != ' ')
		return 0;
	crc = strtoul(end + 1, &end, 16);
	if (end != nl || errno != 0)
		return 0;
	head = (size_t)(nl + 1 - p);
	if (hl > len || bl > len || head + hl + bl + 1 > len - off)
		return 0;
	if (p[head + hl + bl] != '\n' ||
	    crc32_update(crc32_update(0, p + head, hl), p + head + hl, bl) != crc)
		return 0;
	{
		char *text = xstrndup(p + head, hl); /* cJSON wants the NUL in range */

		h = cJSON_ParseWithLengthOpts(text, hl + 1, &jend, 1);
		free(text);
	}
	m = cJSON_GetObjectItemCaseSensitive(h, "m");
	path = cJSON_GetObjectItemCaseSensitive(h, "p");
	now = cJSON_GetObjectItemCaseSensitive(h, "now");
	if (!cJSON_IsString(m) || !cJSON_IsString(path) ||
	    emu_json_ll(now, 0, EMU_CLOCK_MAX, &rq->now) != 0) {
		cJSON_Delete(h);
		return 0;
	}
	rq->method = xstrdup(m->valuestring);
	rq->path = xstrdup(path->valuestring);
	pairs_load(&rq->query, cJSON_GetObjectItemCaseSensitive(h, "q"));
	pairs_load(&rq->headers, cJSON_GetObjectItemCaseSensitive(h, "h"));
	rq->ids = cJSON_DetachItemFromObjectCaseSensitive(h, "ids");
	if (!cJSON_IsArray(rq->ids)) {
		cJSON_Delete(rq->ids);
		rq->ids = cJSON_CreateArray();
	}
	rq->body = xstrndup(p + head + hl, bl);
	rq->body_len = bl;
	rq->replay = 1;
	cJSON_Delete(h);
	return head + hl + bl + 1;
}

static enum errcode
read_file(int fd, char **out, size_t *outlen, struct err *err)
{
	struct stat st;
	size_t got = 0;
	char *data;

	if (fstat(fd, &st) != 0)
		return err_set(err, ERR_IO, "cannot stat journal: %s", strerror(errno));
	if ((unsigned long long)st.st_size > JOURNAL_MAX)
		return err_set(err, ERR_IO, "journal larger than %llu bytes", JOURNAL_MAX);
	data = xmalloc((size_t)st.st_size + 1);
	while (got < (size_t)st.st_size) {
		ssize_t r = pread(fd, data + got, (size_t)st.st_size - got, (off_t)got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			free(data);
			return err_set(err, ERR_IO, "cannot read journal: %s",
			               r < 0 ? strerror(errno) : "short read");
		}
		got += (size_t)r;
	}
	data[got] = '\0';
	*out = data;
	*outlen = got;
	return ERR_OK;
}

/*
 * Opens (creating) data_dir and its journal, takes an exclusive lock on it
 * so two emulators cannot interleave writes, replays every valid record and
 * cuts off a torn tail. The directory is created mode 0700, the journal 0600
 * (it holds secret values).
 */
enum errcode
emu_journal_open(struct emu *e, struct err *err)
{
	char *path = NULL, *data = NULL;
	size_t len = 0, off = 0, n;
	unsigned replayed = 0;
	enum errcode rc = ERR_OK;
	int dfd;

	crc_init();
	if (mkdir(e->data_dir, 0700) != 0 && errno != EEXIST)
		return err_set(err, ERR_IO, "cannot create data directory '%s': %s",
		               e->data_dir, strerror(errno));
	path = xasprintf("%s/journal", e->data_dir);
	e->journal_fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (e->journal_fd < 0) {
		rc = err_set(err, ERR_IO, "cannot open '%s': %s", path, strerror(errno));
		goto out;
	}
	if (flock(e->journal_fd, LOCK_EX | LOCK_NB) != 0) {
		rc = err_set(err, ERR_IO, "data directory '%s' is in use by another cfemu",
		             e->data_dir);
		goto out;
	}
	if ((rc = read_file(e->journal_fd, &data, &len, err)) != ERR_OK)
		goto out;
	for (;;) {
		struct emu_req rq;
		struct emu_resp rs;

		memset(&rq, 0, sizeof(rq));
		memset(&rs, 0, sizeof(rs));
		if (off >= len || (n = record_parse(data, len, off, &rq)) == 0) {
			emu_req_release(&rq);
			break;
		}
		emu_dispatch(e, &rq, &rs, 1);
		if (rs.status / 100 != 2)
			log_warn("journal record did not replay", "method=%s path=\"%s\" status=%u",
			         rq.method, rq.path, rs.status);
		free(rs.body);
		emu_req_release(&rq);
		off += n;
		replayed++;
	}
	if (off < len) {
		log_warn("journal tail cut off", "dir=\"%s\" bytes=%zu", e->data_dir, len - off);
		if (ftruncate(e->journal_fd, (off_t)off) != 0 || fsync(e->journal_fd) != 0) {
			rc = err_set(err, ERR_IO, "cannot truncate '%s': %s", path, strerror(errno));
			goto out;
		}
	}
	dfd = open(e->data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) { /* make the journal's directory entry durable */
		(void)fsync(dfd);
		close(dfd);
	}
	log_debug("journal replayed", "records=%u", replayed);
out:
	if (rc != ERR_OK)
		emu_journal_close(e);
	free(data);
	free(path);
	return rc;
}
