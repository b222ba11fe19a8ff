/*
 * Reading manifests from disk: files, directories (sorted, recursive) and
 * stdin, each bounded by YDOC_MAX_FILE before a byte is parsed.
 */
#include "manifest.h"

#include <dirent.h>
#include <errno.h>
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

/*
 * Collects every *.yaml / *.yml below dir in sorted order. Names starting with
 * '.' are skipped: Kubernetes mounts a ConfigMap as `..data` and timestamped
 * `..2024_...` directories beside the visible symlinks, which would otherwise
 * be read twice.
 */
static enum errcode
walk(const char *dir, int depth, struct pathlist *out, struct err *e)
{
	DIR *dp;
	struct dirent *de;
	struct pathlist names = { 0 };
	enum errcode rc = ERR_OK;

	if (depth > MANIFEST_MAX_DIR_DEPTH)
		return err_set(e, ERR_IO, "directory '%s' is nested deeper than %d levels",
		               dir, MANIFEST_MAX_DIR_DEPTH);
	if ((dp = opendir(dir)) == NULL)
		return err_set(e, ERR_IO, "cannot read directory '%s': %s", dir,
		               strerror(errno));
	while ((de = readdir(dp)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		pl_add(&names, xstrdup(de->d_name));
	}
	closedir(dp);
	if (names.n > 1)
		qsort(names.v, names.n, sizeof(*names.v), str_cmp);
	for (size_t i = 0; i < names.n; i++) {
		struct stat st;
		size_t dl = strlen(dir);
		char *full = dl && dir[dl - 1] == '/' ? xasprintf("%s%s", dir, names.v[i])
		                                       : xasprintf("%s/%s", dir, names.v[i]);

		if (rc == ERR_OK && stat(full, &st) == 0 && S_ISDIR(st.st_mode)) {
			rc = walk(full, depth + 1, out, e);
			free(full);
		} else if (rc == ERR_OK && has_yaml_ext(names.v[i])) {
			pl_add(out, full);
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

static void
load_one(const char *name, const char *data, size_t len, const char *basedir,
         struct manifest_set *set, struct diags *d)
{
	struct ystream *s;
	char *file = xstrdup(name);

	set->files = xrealloc(set->files, (set->nfiles + 1) * sizeof(*set->files));
	set->files[set->nfiles++] = file;
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
	enum errcode rc = ERR_OK;
	int used_stdin = 0;

	for (size_t i = 0; i < npaths && rc == ERR_OK; i++) {
		struct stat st;

		if (strcmp(paths[i], "-") == 0) {
			pl_add(&files, xstrdup("-"));
			continue;
		}
		if (stat(paths[i], &st) != 0) {
			rc = err_set(e, ERR_IO, "cannot open '%s': %s", paths[i], strerror(errno));
		} else if (S_ISDIR(st.st_mode)) {
			rc = walk(paths[i], 0, &files, e);
		} else {
			pl_add(&files, xstrdup(paths[i]));
		}
	}
	for (size_t i = 0; i < files.n && rc == ERR_OK; i++) {
		char *data = NULL, *base;
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
		if ((fd = open(files.v[i], O_RDONLY | O_CLOEXEC)) < 0) {
			rc = err_set(e, ERR_IO, "cannot open '%s': %s", files.v[i],
			             strerror(errno));
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
	if (rc == ERR_OK)
		manifest_check_set(set, d);
	return rc;
}
