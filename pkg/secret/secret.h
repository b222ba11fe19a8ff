/*
 * secret: generated secret values and the arithmetic of their versions.
 *
 * A value lives only in a struct secret_value: allocated away from core dumps
 * (MADV_DONTDUMP), OPENSSL_cleanse'd on free, with no printer. What leaves it
 * is a fingerprint: the first 8 bytes of its SHA-256, in hex. The schedule and
 * retain rules are pure functions of (spec, ledger, now), in UTC seconds with
 * no time zone (so no DST), days being 86,400 s.
 */
#ifndef CFS_SECRET_H
#define CFS_SECRET_H

#include <stddef.h>
#include <stdint.h>

#include "../err/err.h"
#include "../manifest/manifest.h"
#include "../state/state.h"

#define SECRET_DAY 86400
/* `rotate NAME` refuses a version younger than this without --force. */
#define SECRET_MIN_AGE_FOR_ROTATE SECRET_DAY

struct secret_value {
	char *text;          /* the encoded value, NUL-terminated */
	size_t len;
	size_t cap;          /* mapped size */
};

/* Generates `bytes` random bytes from OpenSSL's CSPRNG and encodes them.
 * Free with secret_value_free(). */
enum errcode secret_generate(int64_t bytes, enum secret_encoding enc,
                             struct secret_value **out, struct err *e) WARN_UNUSED_RESULT;
void secret_value_free(struct secret_value *v);
/* 16 hex digits of SHA-256(value). */
void secret_fingerprint(const struct secret_value *v, char out[17]);
/* Turns off core dumps for this process (RLIMIT_CORE 0, not dumpable). */
void secret_no_core_dumps(void);

/* When the current version (created at `created`) falls due: created +
 * everyDays, or with startAt the first startAt + k*everyDays after created.
 * INT64_MAX when the spec has no rotation. */
int64_t secret_next_due(const struct secret_spec *s, int64_t created);
/* The version that is current, or NULL. */
const struct sec_version *ledger_current(const struct sec_ledger *l);
const struct sec_version *ledger_pending(const struct sec_ledger *l);
unsigned ledger_max(const struct sec_ledger *l);
/*
 * Which versions the retain policy destroys once `cur` is current (0: none):
 * never cur or the version before it that was current (previous), never a
 * version that was not current yet, never one already destroyed. count N
 * keeps the N newest versions that were ever current; days N keeps versions
 * created within N days of now. A half-published version (retained, marked
 * published: a pointer phase was cut) is neither counted nor previous; it goes
 * when the version that replaced it goes. Writes version numbers into out
 * (room for l->n) and returns how many.
 */
size_t secret_destroyable(const struct secret_spec *s, const struct sec_ledger *l,
                          unsigned cur, int64_t now, unsigned *out);

/*
 * The comments cfstorage writes on Secrets Store secrets are its mark and
 * the mirror of the ledger (values cannot be read back, comments can):
 *   version  "cfstorage secret=NAME version=N fingerprint=F created=T"
 *   pointer  "cfstorage secret=NAME pointer current=N"
 *   alias    "cfstorage secret=NAME alias current=N"
 * Releases before the alias carried its version wrote SECRET_ALIAS_LEGACY.
 */
#define SECRET_ALIAS_LEGACY "cfstorage alias of the current version"
/* The largest version number read back from the account. */
#define SECRET_MAX_VERSION 999999u
/* n when name is BASE_V<n> (1 <= n <= SECRET_MAX_VERSION, no leading 0), else 0. */
unsigned secret_version_of(const char *name, const char *base);
/* The VALUE of " KEY=VALUE" in a comment, or NULL; free with free(). */
char *secret_comment_field(const char *comment, const char *key);
/* 1 when the comment is cfstorage's, written for the Secret `name`. */
int secret_comment_marks(const char *comment, const char *name);
/* The current=N of a pointer or alias comment, 0 when absent. */
unsigned secret_comment_current(const char *comment);

/* Target identity as kept in the ledger: "store:STORE/NAME", "script:S/NAME". */
char *secret_target_id(const struct secret_target *t);

#endif
