/* Private to pkg/manifest: the parser proper (parse.c) behind load.c. */
#ifndef CFS_MANIFEST_INTERNAL_H
#define CFS_MANIFEST_INTERNAL_H

#include "../yaml/ydoc.h"
#include "manifest.h"

#include <sys/stat.h>

/* Turns every document of s into resources appended to set; `file` is the
 * set's own copy of the name (positions point at it); valueFrom files
 * resolve against basedir and must stay in it or in set->path_roots. */
void manifest_parse_stream(const struct ystream *s, const char *file,
                           const char *basedir, struct manifest_set *set,
                           struct diags *d);

enum path_verdict {
	PATH_OK = 0,
	PATH_ABSOLUTE, /* an absolute path outside every allowed folder */
	PATH_DOTDOT,   /* '..' climbs out of every allowed folder */
	PATH_SYMLINK,  /* the real path (symlinks followed) is outside them */
	PATH_MISSING,  /* cannot be resolved: *err_no says why */
};

/*
 * Resolves `file` (from a manifest) against basedir (the manifest's folder):
 * PATH_OK when it stays inside basedir or one of roots (real paths), with
 * *real its real path and *root the folder it is in (free both).
 */
enum path_verdict manifest_path_resolve(const char *basedir, const char *file,
                                        const char *const *roots, size_t nroots,
                                        char **real, char **root, int *err_no);

/*
 * Opens a path resolved by manifest_path_resolve for reading: regular files
 * only (a FIFO neither blocks nor is read), and the file opened must still
 * be inside root. *fd is the caller's to close; st is filled.
 */
enum errcode manifest_path_open(const char *real, const char *root, int *fd,
                                struct stat *st, struct err *e) WARN_UNUSED_RESULT;

void manifest_resource_release(struct resource *r);

/* Reads a D1Database's migrations folder (real path `real`, confined to
 * `root`) into s->migrations, checking names, order, duplicates and each
 * file; problems are reported at pos. */
void manifest_d1_scan(struct d1_database_spec *s, const char *real, const char *root,
                      struct src_pos pos, struct diags *d);

#endif
