/*
 * err: the one error type. A fallible function returns enum errcode (ERR_OK is
 * 0) and takes `struct err *` last; people read err.msg, code branches on
 * err.code. The values never change: they may be stored and compared.
 */
#ifndef CFS_ERR_H
#define CFS_ERR_H

#include <stdarg.h>

#define WARN_UNUSED_RESULT __attribute__((warn_unused_result))

enum errcode {
	ERR_OK = 0,
	ERR_INVALID = 1,   /* the input is wrong: fix the manifest or flag */
	ERR_NOTFOUND = 2,  /* the thing does not exist */
	ERR_CONFLICT = 3,  /* it exists already, or is not in the state asked */
	ERR_RATELIMITED = 4, /* the API said 429: wait, then retry */
	ERR_TRANSIENT = 5, /* 5xx, dropped connection, timeout: retry later */
	ERR_PERMANENT = 6, /* the API refused; retrying will not help */
	ERR_IO = 7,        /* local file or socket trouble */
	ERR_AUTH = 8,      /* the API refused the credentials (401, 403) */
};

/* 1-based line and column; 0 means unknown. `file` is borrowed. */
struct src_pos {
	const char *file;
	unsigned line, col;
};

#define ERR_MSG_MAX 256

struct err {
	enum errcode code;
	struct src_pos pos;
	char msg[ERR_MSG_MAX];
};

/* Sets e (when not NULL) and returns code, so callers can `return err_set(...)`. */
enum errcode err_set(struct err *e, enum errcode code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
enum errcode err_setv(struct err *e, enum errcode code, const char *fmt,
                      va_list ap);
void err_clear(struct err *e);
const char *err_code_name(enum errcode code);

#endif
