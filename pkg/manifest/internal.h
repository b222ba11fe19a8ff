/* Private to pkg/manifest: the parser proper (parse.c) behind load.c. */
#ifndef CFS_MANIFEST_INTERNAL_H
#define CFS_MANIFEST_INTERNAL_H

#include "../yaml/ydoc.h"
#include "manifest.h"

/* Turns every document of s into resources appended to set; `file` is the
 * set's own copy of the name (positions point at it); relative valueFrom
 * files resolve against basedir. */
void manifest_parse_stream(const struct ystream *s, const char *file,
                           const char *basedir, struct manifest_set *set,
                           struct diags *d);

void manifest_resource_release(struct resource *r);

#endif
