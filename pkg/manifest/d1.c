/*
 * D1Database migrations: the folder of NNNN_name.sql files a database
 * declares, read at validation (names, order, duplicates, sizes, statement
 * counts, content hashes), and the SQL splitter that apply uses to send each
 * statement as one item of a batch and to name the line of the one that
 * failed.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "../mem/mem.h"
#include "internal.h"

void
manifest_d1_hash(const char *data, size_t len, char out[17])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
	for (int i = 0; i < 8; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* ---- splitting ---- */

/* UTF-8's byte order mark, which some editors put at the start of a file. */
#define SQL_BOM "\xef\xbb\xbf"

enum sql_state { S_CODE, S_SQUOTE, S_DQUOTE, S_BACKTICK, S_BRACKET, S_LINE, S_BLOCK };

/* 1 when the word w[0..n) is `kw` (upper case), ignoring case. */
static int
word_is(const char *w, size_t n, const char *kw)
{
	return strlen(kw) == n && strncasecmp(w, kw, n) == 0;
}

/*
 * sqlite3_complete's tokens and states (SQLite's complete.c): a statement
 * ends at a ';' except inside CREATE [TEMP] TRIGGER, where it ends only at a
 * ';' that follows an END that itself follows a ';' (with nothing but blanks
 * and comments between them). So BEGIN, CASE and a column named `end` or
 * `begin` never matter: only "; END ;" closes a trigger.
 */
enum sql_tok { T_SEMI, T_OTHER, T_EXPLAIN, T_CREATE, T_TEMP, T_TRIGGER, T_END };
enum { Q_INVALID, Q_START, Q_NORMAL, Q_EXPLAIN, Q_CREATE, Q_TRIGGER, Q_SEMI, Q_END };

/* complete.c's table: the next state from [state][token]. */
static const unsigned char sql_trans[8][7] = {
	/*            SEMI     OTHER      EXPLAIN    CREATE    TEMP      TRIGGER    END */
	/* INVALID */ { Q_START, Q_NORMAL, Q_EXPLAIN, Q_CREATE, Q_NORMAL, Q_NORMAL, Q_NORMAL },
	/* START   */ { Q_START, Q_NORMAL, Q_EXPLAIN, Q_CREATE, Q_NORMAL, Q_NORMAL, Q_NORMAL },
	/* NORMAL  */ { Q_START, Q_NORMAL, Q_NORMAL, Q_NORMAL, Q_NORMAL, Q_NORMAL, Q_NORMAL },
	/* EXPLAIN */ { Q_START, Q_EXPLAIN, Q_NORMAL, Q_CREATE, Q_NORMAL, Q_NORMAL, Q_NORMAL },
	/* CREATE  */ { Q_START, Q_NORMAL, Q_NORMAL, Q_NORMAL, Q_CREATE, Q_TRIGGER, Q_NORMAL },
	/* TRIGGER */ { Q_SEMI, Q_TRIGGER, Q_TRIGGER, Q_TRIGGER, Q_TRIGGER, Q_TRIGGER, Q_TRIGGER },
	/* SEMI    */ { Q_SEMI, Q_TRIGGER, Q_TRIGGER, Q_TRIGGER, Q_TRIGGER, Q_TRIGGER, Q_END },
	/* END     */ { Q_START, Q_TRIGGER, Q_TRIGGER, Q_TRIGGER, Q_TRIGGER, Q_TRIGGER, Q_TRIGGER },
};

/* The splitter's progress through one text. */
struct splitter {
	const char *sql;
	size_t len;
	struct sql_stmt *v;
	size_t n, cap;
	size_t start;            /* where the open statement starts */
	unsigned sline, scol;
	int in_stmt;
	unsigned q;              /* the sql_trans state */
};

/* Closes the open statement at the ';' (or the end) at i. */
static void
close_stmt(struct splitter *p, size_t i)
{
	if (p->in_stmt) {
		size_t e = i;

		while (e > p->start && isspace((unsigned char)p->sql[e - 1]))
			e--;
		if (p->n == p->cap) {
			p->cap = p->cap ? p->cap * 2 : 16;
			p->v = xrealloc(p->v, p->cap * sizeof(*p->v));
		}
		p->v[p->n++] = (struct sql_stmt){ p->start, e - p->start, p->sline, p->scol };
	}
	p->in_stmt = 0;
	p->q = Q_START;
}

/* The token of the word sql[i..w), as complete.c tells keywords. */
static enum sql_tok
word_tok(const char *s, size_t l)
{
	if (word_is(s, l, "CREATE"))
		return T_CREATE;
	if (word_is(s, l, "TEMP") || word_is(s, l, "TEMPORARY"))
		return T_TEMP;
	if (word_is(s, l, "TRIGGER"))
		return T_TRIGGER;
	if (word_is(s, l, "EXPLAIN"))
		return T_EXPLAIN;
	if (word_is(s, l, "END"))
		return T_END;
	return T_OTHER;
}

/*
 * One pass over the text with a small state machine. A statement starts at
 * its first byte that is neither blank nor inside a comment; it ends at a ';'
 * in code, except inside a CREATE TRIGGER, where it ends at the ';' of
 * "; END ;" (sql_trans). A UTF-8 byte order mark at the start is skipped
 * (it is no column: the first character stays at 1:1).
 */
size_t
manifest_sql_split(const char *sql, size_t len, struct sql_stmt **out)
{
	struct splitter p = { .sql = sql, .len = len };
	enum sql_state st = S_CODE;
	unsigned line = 1, col = 1;
	size_t i0 = len >= 3 && memcmp(sql, SQL_BOM, 3) == 0 ? 3 : 0;

	for (size_t i = i0; i <= len; i++) {
		char ch = i < len ? sql[i] : ';'; /* the end closes the last statement */
		char nx = i + 1 < len ? sql[i + 1] : '\0';
		char close = st == S_SQUOTE ? '\'' : st == S_DQUOTE ? '"' : st == S_BACKTICK ? '`' : ']';

		if (i == len)
			st = S_CODE; /* an unterminated quote or comment: the server says so */
		if (st == S_LINE && ch == '\n') {
			st = S_CODE;
		} else if (st == S_BLOCK && ch == '*' && nx == '/') {
			st = S_CODE;
			i++;
			col++;
		} else if (st != S_CODE && st != S_LINE && st != S_BLOCK && ch == close) {
			if (st != S_BRACKET && nx == close) {
				i++; /* a doubled quote is a quote */
				col++;
			} else {
				st = S_CODE;
			}
		} else if (st != S_CODE) {
			/* inside a comment or a quote */
		} else if (i < len && ch == '-' && nx == '-') {
			st = S_LINE;
		} else if (i < len && ch == '/' && nx == '*') {
			st = S_BLOCK;
			i++;
			col++;
		} else if (ch == ';') {
			p.q = sql_trans[p.q][T_SEMI];
			if (p.q == Q_START || i == len)
				close_stmt(&p, i); /* else: a statement of the trigger's body */
		} else if (!isspace((unsigned char)ch)) {
			enum sql_tok t = T_OTHER;

			if (!p.in_stmt) {
				p.in_stmt = 1;
				p.start = i;
				p.sline = line;
				p.scol = col;
			}
			if (ch == '\'' || ch == '"' || ch == '`' || ch == '[') {
				st = ch == '\'' ? S_SQUOTE : ch == '"' ? S_DQUOTE : ch == '`' ? S_BACKTICK
				                                                             : S_BRACKET;
			} else if (isalpha((unsigned char)ch) || ch == '_') {
				size_t w = i;

				while (w < len && (isalnum((unsigned char)sql[w]) || sql[w] == '_' ||
				                   sql[w] == '$'))
					w++;
				t = word_tok(sql + i, w - i);
				col += (unsigned)(w - i - 1);
				i = w - 1;
			}
			p.q = sql_trans[p.q][t];
		}
		if (i < len && sql[i] == '\n') {
			line++;
			col = 1;
		} else {
			col++;
		}
	}
	*out = p.v;
	return p.n;
}

/* ---- reading ---- */

/* Reads a confined file whole: at most D1_MIGRATION_FILE_MAX bytes. */
static enum errcode
read_confined(const char *real, const char *root, char **out, size_t *len, struct err *e)
{
	struct stat st;
	enum errcode rc;
	struct buf b;
	char chunk[65536];
	int fd;

	*out = NULL;
	*len = 0;
	if ((rc = manifest_path_open(real, root, &fd, &st, e)) != ERR_OK)
		return rc;
	buf_init(&b, D1_MIGRATION_FILE_MAX);
	for (;;) {
		ssize_t r = read(fd, chunk, sizeof(chunk));

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = err_set(e, ERR_IO, "cannot read '%s': %s", real, strerror(errno));
			break;
		}
		if (r == 0)
			break;
		if (buf_append(&b, chunk, (size_t)r) != 0) {
			rc = err_set(e, ERR_INVALID, "'%s' is over %u bytes", real,
			             D1_MIGRATION_FILE_MAX);
			break;
		}
	}
	close(fd);
	if (rc == ERR_OK) {
		*len = b.len;
		*out = buf_take(&b);
	}
	buf_release(&b);
	return rc;
}

enum errcode
manifest_d1_read(const struct d1_migration *m, char **out, size_t *len, struct err *e)
{
	char h[17];
	enum errcode rc = read_confined(m->path, m->root, out, len, e);

	if (rc != ERR_OK)
		return rc;
	manifest_d1_hash(*out, *len, h);
	if (strcmp(h, m->hash) != 0) {
		free(*out);
		*out = NULL;
		return err_set(e, ERR_CONFLICT, "migration '%s' changed since it was validated; "
		               "run again", m->name);
	}
	return ERR_OK;
}

/* ---- the folder ---- */

/* NNNN_name.sql: digits, '_', then letters, digits, '_', '-' or '.'; the
 * number into *num. 0 when the name is not one. */
static int
migration_name(const char *s, unsigned long *num)
{
	size_t l = strlen(s), d = strspn(s, "0123456789");
	char *end;

	if (l < 5 || strcmp(s + l - 4, ".sql") != 0 || d == 0 || d > 9 || s[d] != '_' ||
	    d + 1 >= l - 4)
		return 0;
	for (size_t i = d + 1; i < l - 4; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-' && s[i] != '.')
			return 0;
	errno = 0;
	*num = strtoul(s, &end, 10);
	return errno == 0 && end == s + d;
}

static int
mig_cmp(const void *a, const void *b)
{
	return strcmp(((const struct d1_migration *)a)->name,
	              ((const struct d1_migration *)b)->name);
}

/* Hashes one migration file and counts its statements; problems go to d. */
static void
check_file(struct d1_migration *m, struct src_pos pos, struct diags *d)
{
	struct sql_stmt *v = NULL;
	struct err e;
	char *data = NULL;
	size_t len = 0;

	err_clear(&e);
	if (read_confined(m->path, m->root, &data, &len, &e) != ERR_OK) {
		diags_add(d, pos, "migration '%s': %s", m->name, e.msg);
		return;
	}
	manifest_d1_hash(data, len, m->hash);
	m->nstatements = manifest_sql_split(data, len, &v);
	if (m->nstatements == 0)
		diags_add(d, pos, "migration '%s' holds no SQL statement", m->name);
	else if (m->nstatements > D1_MIGRATION_MAX_STATEMENTS)
		diags_add(d, pos, "migration '%s' has %zu statements; at most %d (D1 runs at "
		          "most 1000 queries in one batch, and the migrations table's CREATE and "
		          "INSERT are two of them)", m->name, m->nstatements,
		          D1_MIGRATION_MAX_STATEMENTS);
	for (size_t i = 0; i < m->nstatements; i++)
		if (v[i].len > D1_STATEMENT_MAX)
			diags_add(d, pos, "migration '%s': the statement at line %u is %zu bytes; D1 "
			          "takes at most %d", m->name, v[i].line, v[i].len, D1_STATEMENT_MAX);
	free(v);
	free(data);
}

/*
 * Reads the migrations folder `real` (a real path inside `root`): every
 * *.sql file must be named NNNN_name.sql, numbers unique, and the order of
 * the names (which wrangler applies in) the order of the numbers. Other
 * files and subfolders are ignored, as wrangler ignores them. Problems are
 * reported at pos (the manifest's migrations.dir).
 */
void
manifest_d1_scan(struct d1_database_spec *s, const char *real, const char *root,
                 struct src_pos pos, struct diags *d)
{
	DIR *dir = opendir(real);
	struct dirent *de;
	size_t cap = 0;

	if (dir == NULL) {
		diags_add(d, pos, "cannot read migrations folder '%s': %s", s->migrations_dir,
		          strerror(errno));
		return;
	}
	while ((de = readdir(dir)) != NULL) {
		size_t l = strlen(de->d_name);
		unsigned long num;
		struct d1_migration *m;
		char *path;
		struct stat st;

		if (de->d_name[0] == '.' || l < 4 || strcmp(de->d_name + l - 4, ".sql") != 0)
			continue;
		if (!migration_name(de->d_name, &num)) {
			diags_add(d, pos, "migration file '%.200s' is not named NNNN_name.sql (digits, "
			          "'_', then letters, digits, '_', '-' or '.')", de->d_name);
			continue;
		}
		path = xasprintf("%s/%s", real, de->d_name);
		if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
			diags_add(d, pos, "migration '%s' is not a regular file", de->d_name);
			free(path);
			continue;
		}
		if (s->nmigrations >= D1_MIGRATIONS_MAX) {
			diags_add(d, pos, "more than %d migration files", D1_MIGRATIONS_MAX);
			free(path);
			break;
		}
		if (s->nmigrations == cap) {
			cap = cap ? cap * 2 : 16;
			s->migrations = xrealloc(s->migrations, cap * sizeof(*s->migrations));
		}
		m = &s->migrations[s->nmigrations++];
		memset(m, 0, sizeof(*m));
		m->name = xstrdup(de->d_name);
		m->number = num;
		m->path = path;
		m->root = xstrdup(root);
	}
	closedir(dir);
	if (s->nmigrations > 1)
		qsort(s->migrations, s->nmigrations, sizeof(*s->migrations), mig_cmp);
	for (size_t i = 0; i < s->nmigrations; i++) {
		struct d1_migration *m = &s->migrations[i];

		if (i > 0 && m->number == s->migrations[i - 1].number)
			diags_add(d, pos, "migrations '%s' and '%s' have the same number %lu",
			          s->migrations[i - 1].name, m->name, m->number);
		else if (i > 0 && m->number < s->migrations[i - 1].number)
			diags_add(d, pos, "migration '%s' sorts after '%s' but its number is lower; "
			          "pad the numbers to one width (wrangler applies files in name "
			          "order)", m->name, s->migrations[i - 1].name);
		check_file(m, pos, d);
	}
}
