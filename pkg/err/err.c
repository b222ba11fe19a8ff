#include "err.h"

#include <stdio.h>
#include <string.h>

enum errcode
err_setv(struct err *e, enum errcode code, const char *fmt, va_list ap)
{
	if (e == NULL)
		return code;
	e->code = code;
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	return code;
}

enum errcode
err_set(struct err *e, enum errcode code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	err_setv(e, code, fmt, ap);
	va_end(ap);
	return code;
}

void
err_clear(struct err *e)
{
	memset(e, 0, sizeof(*e));
}

const char *
err_code_name(enum errcode code)
{
	switch (code) {
	case ERR_OK: return "ok";
	case ERR_INVALID: return "invalid";
	case ERR_NOTFOUND: return "notfound";
	case ERR_CONFLICT: return "conflict";
	case ERR_RATELIMITED: return "ratelimited";
	case ERR_TRANSIENT: return "transient";
	case ERR_PERMANENT: return "permanent";
	case ERR_AUTH: return "auth";
	case ERR_IO: return "io";
	}
	return "unknown";
}
