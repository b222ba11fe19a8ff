#include "diag.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <strings.h>
#include <stdlib.h>
#include <string.h>

#include "../log/log.h"
#include "../mem/mem.h"

void
diags_init(struct diags *d)
{
	memset(d, 0, sizeof(*d));
}

void
diags_release(struct diags *d)
{
	for (size_t i = 0; i < d->n; i++) {
		free(d->v[i].file);
		free(d->v[i].msg);
	}
	free(d->v);
	memset(d, 0, sizeof(*d));
}

void
diags_add(struct diags *d, struct src_pos pos, const char *fmt, ...)
{
	va_list ap;
	struct buf b;
	struct diag *x;

	if (d->n >= DIAG_MAX) {
		d->dropped++;
		return;
	}
	if (d->n == d->cap) {
		d->cap = d->cap ? d->cap * 2 : 16;
		d->v = xrealloc(d->v, d->cap * sizeof(*d->v));
	}
	buf_init(&b, 4096);
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	x = &d->v[d->n++];
	x->file = xstrdup(pos.file ? pos.file : "-");
	x->line = pos.line;
	x->col = pos.col;
	x->msg = buf_take(&b);
}

/* Insertion order is kept for equal positions, so the index breaks ties. */
struct keyed {
	struct diag d;
	size_t idx;
};

static int
cmp(const void *a, const void *b)
{
	const struct keyed *x = a, *y = b;
	int c = strcmp(x->d.file, y->d.file);

	if (c)
		return c;
	if (x->d.line != y->d.line)
		return x->d.line < y->d.line ? -1 : 1;
	if (x->d.col != y->d.col)
		return x->d.col < y->d.col ? -1 : 1;
	return x->idx < y->idx ? -1 : (x->idx > y->idx);
}

void
diags_sort(struct diags *d)
{
	struct keyed *k;
	size_t out = 0;

	if (d->n < 2)
		return;
	k = xmalloc(d->n * sizeof(*k));
	for (size_t i = 0; i < d->n; i++) {
		k[i].d = d->v[i];
		k[i].idx = i;
	}
	qsort(k, d->n, sizeof(*k), cmp);
	for (size_t i = 0; i < d->n; i++) {
		if (out > 0 && strcmp(d->v[out - 1].file, k[i].d.file) == 0 &&
		    d->v[out - 1].line == k[i].d.line &&
		    d->v[out - 1].col == k[i].d.col &&
		    strcmp(d->v[out - 1].msg, k[i].d.msg) == 0) {
			free(k[i].d.file);
			free(k[i].d.msg);
			continue;
		}
		d->v[out++] = k[i].d;
	}
	d->n = out;
	free(k);
}

void
diags_print_text(const struct diags *d, FILE *out)
{
	for (size_t i = 0; i < d->n; i++) {
		const struct diag *x = &d->v[i];

		/* the file name and the quoted values come from the manifests:
		 * escaped, so a hostile manifest cannot act on a CI log or terminal */
		log_fputs_text(out, x->file);
		if (x->line)
			fprintf(out, ":%u:%u", x->line, x->col);
		fputs(": ", out);
		log_fputs_text(out, x->msg);
		fputc('\n', out);
	}
	if (d->dropped)
		fprintf(out, "(%zu more errors not shown)\n", d->dropped);
}

void
diags_print_json(const struct diags *d, FILE *out)
{
	struct buf b;

	buf_init(&b, (size_t)-1);
	buf_puts(&b, "[");
	for (size_t i = 0; i < d->n; i++) {
		const struct diag *x = &d->v[i];

		buf_puts(&b, i ? ",\n  {\"file\":" : "\n  {\"file\":");
		buf_json_string(&b, x->file, strlen(x->file));
		buf_printf(&b, ",\"line\":%u,\"col\":%u,\"message\":", x->line, x->col);
		buf_json_string(&b, x->msg, strlen(x->msg));
		buf_puts(&b, "}");
	}
	buf_puts(&b, d->n ? "\n]\n" : "]\n");
	fputs(b.data, out);
	buf_release(&b);
}

/* ---- did you mean ---- */

static size_t
edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), *row, r;

	if (la > 64 || lb > 64)
		return SIZE_MAX;
	row = xmalloc((lb + 1) * sizeof(*row));
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t prev = row[0];

		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t cur = row[j];
			size_t cost = tolower((unsigned char)a[i - 1]) ==
			              tolower((unsigned char)b[j - 1]) ? 0 : 1;
			size_t best = prev + cost;

			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			prev = cur;
		}
	}
	r = row[lb];
	free(row);
	return r;
}

const char *
diag_closest(const char *word, const char *const *cands)
{
	const char *best = NULL;
	size_t bestd = SIZE_MAX, wl = strlen(word), limit = wl / 3 > 2 ? wl / 3 : 2;

	for (size_t i = 0; cands[i]; i++) {
		size_t dd = edit_distance(word, cands[i]);

		if (dd < bestd) {
			bestd = dd;
			best = cands[i];
		}
	}
	if (bestd <= limit)
		return best;
	/* "ttl" for "ttlSeconds": a word that starts a candidate */
	for (size_t i = 0; wl >= 3 && cands[i]; i++)
		if (strncasecmp(cands[i], word, wl) == 0)
			return cands[i];
	return NULL;
}
