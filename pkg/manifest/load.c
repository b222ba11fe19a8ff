/*
 * Reading manifests from disk: files, directories (sorted, recursive) and
 * stdin, each bounded by YDOC_MAX_FILE before a byte is parsed.
 */
#include "manifest.h"

#include <dirent.h>
#include <errno.h>
#include <openssl/evp.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../mem/mem.h"
#include "../yaml/ydoc.h"
#include "internal.h"

struct pathlist {
	char **v;
	size_t n, cap;
};

static void
pl_add(struct pathlist *pl, char *p)
{
	if (pl->n == pl->cap) {
		pl->cap = pl->cap ? pl->cap * 2 : 16;
		pl->v = xrealloc(pl->v, pl->cap * sizeof(*pl->v));
	}
	pl->v[pl->n++] = p;
}

static int
has_yaml_ext(const char *name)
{
	size_t l = strlen(name);

	return (l > 5 && strcmp(name + l - 5, ".yaml") == 0) ||
	       (l > 4 && strcmp(name + l - 4, ".yml") == 0);
}

static int
str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
manifest_dirset_add(struct manifest_dirset *s, uint64_t dev, uint64_t ino)
{
	size_t lo = 0, hi = s->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		const struct manifest_dirid *m = &s->v[mid];

		if (m->dev == dev && m->ino == ino)
			return 0;
		if (m->dev < dev || (m->dev == dev && m->ino < ino))
			lo = mid + 1;
		else
			hi = mid;
	}
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 16;
		s->v = xrealloc(s->v, s->cap * sizeof(*s->v));
	}
	memmove(&s->v[lo + 1], &s->v[lo], (s->n - lo) * sizeof(*s->v));
	s->v[lo].dev = dev;
	s->v[lo].ino = ino;
	s->n++;
	return 1;
}

void
manifest_dirset_release(struct manifest_dirset *s)
{
	free(s->v);
	memset(s, 0, sizeof(*s));
}

/* One load's walk over folders: what it found and what it has seen. */
struct walker {
	struct pathlist *out;
	struct manifest_dirset seen;
	size_t nentries;
};

/* A manifest file found in a folder or named by -f must be a regular file:
 * opening a FIFO would wait for a writer forever. */
static enum errcode
add_file(struct walker *w, char *path, const struct stat *st, struct err *e)
{
	if (!S_ISREG(st->st_mode)) {
		err_set(e, ERR_IO, "'%s' is not a regular file; manifests must be regular "
		        "files", path);
		free(path);
		return ERR_IO;
	}
	if (w->out->n >= MANIFEST_MAX_FILES) {
		err_set(e, ERR_IO, "more than %d manifest files (at '%s'); refused",
		        MANIFEST_MAX_FILES, path);
		free(path);
		return ERR_IO;
	}
	pl_add(w->out, path);
	return ERR_OK;
}

/*
 * Collects every *.yaml / *.yml below dir in sorted order. Names starting with
 * '.' are skipped: Kubernetes mounts a ConfigMap as `..data` and timestamped
 * `..2024_...` directories beside the visible symlinks, which would otherwise
 * be read twice. Symlinks are followed, but every folder is walked once (by
 * device and inode), so a loop or a fan-out of links costs one visit per
 * folder; folders, entries and files are capped.
 */
static enum errcode
walk(struct walker *w, const char *dir, int depth, struct err *e)
{
	DIR *dp;
	struct dirent *de;
	struct pathlist names = { 0 };
	struct stat st;
	enum errcode rc = ERR_OK;
	int fd;

	if (depth > MANIFEST_MAX_DIR_DEPTH)
		return err_set(e, ERR_IO, "directory '%s' is nested deeper than %d levels",
		               dir, MANIFEST_MAX_DIR_DEPTH);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0 || fstat(fd, &st) != 0) {
		rc = err_set(e, ERR_IO, "cannot read directory '%s': %s", dir, strerror(errno));
		if (fd >= 0)
			close(fd);
		return rc;
	}
	if (!manifest_dirset_add(&w->seen, (uint64_t)st.st_dev, (uint64_t)st.st_ino)) {
		close(fd); /* walked already, through another path */
		return ERR_OK;
	}
	if (w->seen.n > MANIFEST_MAX_DIRS) {
		close(fd);
		return err_set(e, ERR_IO, "more than %d folders to read (at '%s'); refused",
		               MANIFEST_MAX_DIRS, dir);
	}
	if ((dp = fdopendir(fd)) == NULL) {
		rc = err_set(e, ERR_IO, "cannot read directory '%s': %s", dir, strerror(errno));
		close(fd);
		return rc;
	}
	while ((de = readdir(dp)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (++w->nentries > MANIFEST_MAX_DIR_ENTRIES) {
			rc = err_set(e, ERR_IO, "more than %d directory entries to look at (in "
			             "'%s'); refused", MANIFEST_MAX_DIR_ENTRIES, dir);
			break;
		}
		pl_add(&names, xstrdup(de->d_name));
	}
	closedir(dp); /* closes fd */
	if (rc == ERR_OK && names.n > 1)
		qsort(names.v, names.n, sizeof(*names.v), str_cmp);
	for (size_t i = 0; i < names.n; i++) {
		size_t dl = strlen(dir);
		char *full = dl && dir[dl - 1] == '/' ? xasprintf("%s%s", dir, names.v[i])
		                                       : xasprintf("%s/%s", dir, names.v[i]);
		int found = rc == ERR_OK && stat(full, &st) == 0;

		if (found && S_ISDIR(st.st_mode)) {
			rc = walk(w, full, depth + 1, e);
			free(full);
		} else if (rc == ERR_OK && has_yaml_ext(names.v[i])) {
			if (found)
				rc = add_file(w, full, &st, e);
			else
				pl_add(w->out, full); /* a dangling link: its open names the error */
		} else {
			free(full);
		}
		free(names.v[i]);
	}
	free(names.v);
	return rc;
}

/*
 * Reads all of fd, refusing more than YDOC_MAX_FILE bytes without reading
 * them (a regular file's size is checked first; a pipe is read up to the
 * limit plus one byte).
 */
static enum errcode
slurp(int fd, const char *name, char **data, size_t *len, struct err *e)
{
	struct stat st;
	struct buf b;
	char chunk[65536];

	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    (uint64_t)st.st_size > YDOC_MAX_FILE) {
		*data = NULL;
		*len = (size_t)st.st_size;
		return ERR_OK; /* ydoc_parse reports the size with the file's name */
	}
	buf_init(&b, YDOC_MAX_FILE + 1);
	for (;;) {
		ssize_t r = read(fd, chunk, sizeof(chunk));

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			buf_release(&b);
			return err_set(e, ERR_IO, "cannot read '%s': %s", name, strerror(errno));
		}
		if (r == 0)
			break;
		if (buf_append(&b, chunk, (size_t)r) < 0) {
			buf_release(&b);
			*data = NULL;
			*len = (size_t)YDOC_MAX_FILE + 1;
			return ERR_OK;
		}
	}
	*len = b.len;
	*data = buf_take(&b);
	return ERR_OK;
}

/* set->digest = SHA-256(digest, name, NUL, length, bytes): the whole set's
 * content, file by file in load order (the daemon compares it to decide
 * whether an edit changed anything). */
static void
fold_digest(struct manifest_set *set, const char *name, const char *data, size_t len)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	uint64_t n = len;
	unsigned int mdlen = 0;

	EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	EVP_DigestUpdate(ctx, set->digest, sizeof(set->digest));
	EVP_DigestUpdate(ctx, name, strlen(name) + 1);
	EVP_DigestUpdate(ctx, &n, sizeof(n));
	if (len)
		EVP_DigestUpdate(ctx, data, len);
	EVP_DigestFinal_ex(ctx, set->digest, &mdlen);
	EVP_MD_CTX_free(ctx);
}

static void
load_one(const char *name, const char *data, size_t len, const char *basedir,
         struct manifest_set *set, struct diags *d)
{
	struct ystream *s;
	char *file = xstrdup(name);

	set->files = xrealloc(set->files, (set->nfiles + 1) * sizeof(*set->files));
	set->files[set->nfiles++] = file;
	fold_digest(set, name, data, data ? len : 0);
	if (data == NULL) {
		struct src_pos p = { file, 0, 0 };

		diags_add(d, p, "file is larger than %u bytes; refused", YDOC_MAX_FILE);
		return;
	}
	s = ydoc_parse(file, data, len, d);
	manifest_parse_stream(s, file, basedir, set, d);
	ystream_free(s);
}

void
manifest_load_buffer(const char *name, const char *data, size_t len,
                     struct manifest_set *set, struct diags *d)
{
	load_one(name, data, len, ".", set, d);
}

static char *
dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		return xstrdup(".");
	if (slash == path)
		return xstrdup("/");
	return xstrndup(path, (size_t)(slash - path));
}

enum errcode
manifest_load(const char *const *paths, size_t npaths, struct manifest_set *set,
              struct diags *d, struct err *e)
{
	struct pathlist files = { 0 };
	struct walker w = { &files, { 0 }, 0 };
	enum errcode rc = ERR_OK;
	int used_stdin = 0;

	for (size_t i = 0; i < npaths && rc == ERR_OK; i++) {
		struct stat st;

		if (strcmp(paths[i], "-") == 0) {
			pl_add(&files, xstrdup("-"));
			continue;
		}
		if (stat(paths[i], &st) != 0)
			rc = err_set(e, ERR_IO, "cannot open '%s': %s", paths[i], strerror(errno));
		else if (S_ISDIR(st.st_mode))
			rc = walk(&w, paths[i], 0, e);
		else
			rc = add_file(&w, xstrdup(paths[i]), &st, e);
	}
	for (size_t i = 0; i < files.n && rc == ERR_OK; i++) {
		char *data = NULL, *base;
		struct stat st;
		size_t len = 0;
		int fd;

		if (strcmp(files.v[i], "-") == 0) {
			if (used_stdin++) /* stdin can be read once */
				continue;
			rc = slurp(STDIN_FILENO, "<stdin>", &data, &len, e);
			if (rc == ERR_OK)
				load_one("<stdin>", data, len, ".", set, d);
			free(data);
			continue;
		}
		/* O_NONBLOCK: a file swapped for a FIFO since the walk must not
		 * block the open; fstat then refuses it */
		if ((fd = open(files.v[i], O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)) < 0) {
			rc = err_set(e, ERR_IO, "cannot open '%s': %s", files.v[i],
			             strerror(errno));
			break;
		}
		if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
			rc = err_set(e, ERR_IO, "'%s' is not a regular file; manifests must be "
			             "regular files", files.v[i]);
			close(fd);
			break;
		}
		rc = slurp(fd, files.v[i], &data, &len, e);
		close(fd);
		if (rc != ERR_OK)
			break;
		base = dir_of(files.v[i]);
		load_one(files.v[i], data, len, base, set, d);
		free(base);
		free(data);
	}
	for (size_t i = 0; i < files.n; i++)
		free(files.v[i]);
	free(files.v);
	manifest_dirset_release(&w.seen);
	if (rc == ERR_OK)
		manifest_check_set(set, d);
	return rc;
}
