/*
 * Paths taken from manifests (valueFrom.file): where they may lead. Whoever
 * edits a manifest must not be able to publish a file the process can read
 * but the manifest's folder does not hold (the API token, a private key), so
 * a path resolves against the manifest's own folder and must stay inside it,
 * or inside a folder the operator allowed with --allow-path-root.
 *
 * Two checks: a lexical one first (an absolute path, or '..' climbing out,
 * is refused without touching the file system, so validate does not even
 * reveal whether the file exists), then the real path (realpath(3)), which
 * catches a symlink leading out. Reading checks the opened descriptor again
 * (manifest_path_open), so a symlink swapped in after validation is refused
 * too.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../mem/mem.h"
#include "internal.h"

/* 1 when the absolute, normalised path is root or below it. */
static int
under(const char *path, const char *root)
{
	size_t rl = strlen(root);

	if (strcmp(root, "/") == 0)
		return path[0] == '/';
	return strncmp(path, root, rl) == 0 && (path[rl] == '\0' || path[rl] == '/');
}

/*
 * The absolute path that `file` names from the absolute folder `base`, with
 * "." and ".." resolved and repeated slashes removed, by text alone (".." at
 * the root stays at the root, as the kernel does). Free the result.
 */
static char *
lexical(const char *base, const char *file)
{
	size_t cap = strlen(base) + strlen(file) + 2, n = 0;
	char *out = xmalloc(cap + 1);
	const char *parts[2] = { file[0] == '/' ? "" : base, file };

	for (int k = 0; k < 2; k++) {
		const char *s = parts[k];

		while (*s) {
			size_t l;

			while (*s == '/')
				s++;
			l = strcspn(s, "/");
			if (l == 0 || (l == 1 && s[0] == '.')) {
				/* nothing: "" or "." */
			} else if (l == 2 && s[0] == '.' && s[1] == '.') {
				while (n > 0 && out[n - 1] != '/')
					n--;
				if (n > 0)
					n--; /* the slash before the dropped component */
			} else {
				out[n++] = '/';
				memcpy(out + n, s, l);
				n += l;
			}
			s += l;
		}
	}
	if (n == 0)
		out[n++] = '/';
	out[n] = '\0';
	return out;
}

static const char *
inside_any(const char *path, const char *base, const char *const *roots, size_t nroots)
{
	if (under(path, base))
		return base;
	for (size_t i = 0; i < nroots; i++)
		if (under(path, roots[i]))
			return roots[i];
	return NULL;
}

enum path_verdict
manifest_path_resolve(const char *basedir, const char *file, const char *const *roots,
                      size_t nroots, char **real, char **root, int *err_no)
{
	char *base = realpath(basedir, NULL), *lex = NULL, *joined = NULL, *r = NULL;
	const char *in;
	enum path_verdict v;

	*real = *root = NULL;
	*err_no = 0;
	if (base == NULL) {
		*err_no = errno;
		return PATH_MISSING;
	}
	lex = lexical(base, file);
	if (inside_any(lex, base, roots, nroots) == NULL) {
		v = file[0] == '/' ? PATH_ABSOLUTE : PATH_DOTDOT;
		goto out;
	}
	joined = file[0] == '/' ? xstrdup(file) : xasprintf("%s/%s", base, file);
	if ((r = realpath(joined, NULL)) == NULL) {
		*err_no = errno;
		v = PATH_MISSING;
		goto out;
	}
	if ((in = inside_any(r, base, roots, nroots)) == NULL) {
		v = PATH_SYMLINK;
		goto out;
	}
	*root = xstrdup(in);
	*real = r; /* hand-over */
	r = NULL;
	v = PATH_OK;
out:
	free(r);
	free(joined);
	free(lex);
	free(base);
	return v;
}

/* The path of what fd is open on, from /proc; NULL when /proc is missing. */
static char *
fd_path(int fd)
{
	char link[64], buf[PATH_MAX + 1];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, buf, sizeof(buf) - 1);
	if (n <= 0 || n >= (ssize_t)sizeof(buf) - 1)
		return NULL;
	buf[n] = '\0';
	return xstrdup(buf);
}

enum errcode
manifest_path_open(const char *real, const char *root, int *fd_out, struct stat *st,
                   struct err *e)
{
	enum errcode rc = ERR_OK;
	char *where = NULL;
	int fd;

	*fd_out = -1;
	if (root == NULL)
		return err_set(e, ERR_INVALID, "'%s' has no folder to stay in; refused", real);
	/* O_NONBLOCK: opening a FIFO must not wait for a writer; O_NOFOLLOW: the
	 * last component was no symlink when validated and must not become one */
	fd = open(real, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY | O_NOFOLLOW);
	if (fd < 0)
		return err_set(e, ERR_IO, "cannot read '%s': %s", real, strerror(errno));
	if (fstat(fd, st) != 0) {
		rc = err_set(e, ERR_IO, "cannot read '%s': %s", real, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st->st_mode)) {
		rc = err_set(e, ERR_INVALID, "'%s' is not a regular file", real);
		goto out;
	}
	if ((where = fd_path(fd)) == NULL) {
		/* no /proc: the real path now must be the same file */
		struct stat again;

		where = realpath(real, NULL);
		if (where == NULL || stat(where, &again) != 0 || again.st_dev != st->st_dev ||
		    again.st_ino != st->st_ino) {
			rc = err_set(e, ERR_INVALID, "'%s' changed while it was opened; refused",
			             real);
			goto out;
		}
	}
	if (!under(where, root))
		rc = err_set(e, ERR_INVALID, "'%s' now leads outside '%s'; refused", real, root);
out:
	free(where);
	if (rc != ERR_OK)
		close(fd);
	else
		*fd_out = fd;
	return rc;
}

enum errcode
manifest_set_allow_root(struct manifest_set *set, const char *dir, struct err *e)
{
	struct stat st;
	char *r;

	if (set->npath_roots >= MANIFEST_MAX_PATH_ROOTS)
		return err_set(e, ERR_INVALID, "at most %d --allow-path-root folders",
		               MANIFEST_MAX_PATH_ROOTS);
	if ((r = realpath(dir, NULL)) == NULL)
		return err_set(e, ERR_INVALID, "cannot resolve --allow-path-root folder '%s': %s", dir,
		               strerror(errno));
	if (stat(r, &st) != 0 || !S_ISDIR(st.st_mode)) {
		free(r);
		return err_set(e, ERR_INVALID, "--allow-path-root '%s' is not a folder", dir);
	}
	set->path_roots = xrealloc(set->path_roots,
	                           (set->npath_roots + 1) * sizeof(*set->path_roots));
	set->path_roots[set->npath_roots++] = r;
	return ERR_OK;
}
