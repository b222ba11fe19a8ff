/* Unit tests for pkg/daemon's observation rotation (schedule.c): which parts
 * a pass reads, in what order, and the coverage period that follows. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../pkg/daemon/daemon_int.h"
#include "../../pkg/mem/mem.h"

#define HDR "apiVersion: cfstorage.dev/v1alpha1\n"

struct fx {
	struct manifest_set set, old;
	struct sched s;
};

static int
setup(void **state)
{
	struct fx *f = xcalloc(1, sizeof(*f));

	manifest_set_init(&f->set);
	manifest_set_init(&f->old);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	sched_release(&f->s);
	assert_null(f->s.v);
	manifest_set_free(&f->set);
	manifest_set_free(&f->old);
	free(f);
	return 0;
}

/* n buckets b0..b(n-1) with lifecycle and CORS (days for b1 given), and one
 * namespace with an entry. */
static void
load(struct manifest_set *set, int n, int b1_days)
{
	struct diags d;
	struct buf y;

	diags_init(&d);
	buf_init(&y, (size_t)-1);
	for (int i = 0; i < n; i++)
		buf_printf(&y, "---\n" HDR "kind: R2Bucket\nmetadata: {name: bkt%d}\nspec:\n"
		           "  lifecycle: {deleteAfterDays: %d}\n"
		           "  cors: {rules: [{allowedOrigins: ['*'], allowedMethods: [GET]}]}\n", i,
		           i == 1 ? b1_days : 30);
	buf_printf(&y, "---\n" HDR "kind: KVNamespace\nmetadata: {name: ns}\nspec:\n"
	           "  entries:\n    - {key: a, value: b}\n---\n" HDR
	           "kind: KVNamespace\nmetadata: {name: bare}\nspec: {}\n");
	manifest_load_buffer("t.yaml", y.data, y.len, set, &d);
	if (d.n)
		print_error("%s:%u: %s\n", d.v[0].file, d.v[0].line, d.v[0].msg);
	assert_int_equal(d.n, 0);
	buf_release(&y);
	diags_release(&d);
}

static size_t
count_picked(const struct sched *s)
{
	size_t n = 0;

	for (size_t i = 0; i < s->n; i++)
		n += (size_t)s->v[i].picked;
	return n;
}

/* Every declared part is one item; a namespace without entries has none. */
static void
test_items(void **state)
{
	struct fx *f = *state;

	load(&f->set, 3, 30);
	sched_rebuild(&f->s, &f->set, NULL);
	assert_int_equal(f->s.n, 7); /* 3 x (lifecycle, cors) + ns keys */
	assert_true(sched_want(KIND_KVNAMESPACE, "bare", OBS_KV_KEYS, &f->s)); /* not in rotation */
	assert_int_equal(sched_pick(&f->s, 0, 0), 0);
	assert_false(sched_want(KIND_R2BUCKET, "bkt0", OBS_LIFECYCLE, &f->s));
	assert_int_equal(sched_pick(&f->s, 0, 1), 7); /* --observe-all */
	assert_true(sched_want(KIND_R2BUCKET, "bkt2", OBS_CORS, &f->s));
}

/* A fair rotation: each pass reads the least recently read; after n / k
 * passes every part has been read once, and none twice. */
static void
test_rotation_is_fair(void **state)
{
	struct fx *f = *state;
	int reads[64] = { 0 };

	load(&f->set, 10, 30);
	sched_rebuild(&f->s, &f->set, NULL);
	assert_int_equal(f->s.n, 21);
	for (int pass = 1; pass <= 7; pass++) {
		assert_int_equal(sched_pick(&f->s, 3, 0), 3);
		for (size_t i = 0; i < f->s.n; i++)
			reads[i] += f->s.v[i].picked;
		sched_commit(&f->s, pass * 1000);
		assert_int_equal(count_picked(&f->s), 0);
	}
	for (size_t i = 0; i < f->s.n; i++)
		assert_int_equal(reads[i], 1);
	{
		int64_t ages[OBS_NPARTS];

		sched_ages(&f->s, 10000, 0, ages);
		assert_int_equal(ages[OBS_LIFECYCLE], 9000); /* read by pass 1 */
		assert_true(ages[OBS_KV_KEYS] >= 3000);
	}
}

/* A resource whose spec changed (or that is new) is read by the next pass
 * whatever the rotation says, even past the room; then it rejoins the
 * rotation. */
static void
test_changed_first(void **state)
{
	struct fx *f = *state;

	load(&f->old, 4, 30);
	sched_rebuild(&f->s, &f->old, NULL);
	sched_pick(&f->s, 100, 0);
	sched_commit(&f->s, 1000); /* everything read */
	load(&f->set, 4, 45);      /* b1's lifecycle edited */
	sched_rebuild(&f->s, &f->set, &f->old);
	assert_int_equal(sched_pick(&f->s, 0, 0), 2);
	assert_true(sched_want(KIND_R2BUCKET, "bkt1", OBS_LIFECYCLE, &f->s));
	assert_true(sched_want(KIND_R2BUCKET, "bkt1", OBS_CORS, &f->s));
	assert_false(sched_want(KIND_R2BUCKET, "bkt0", OBS_LIFECYCLE, &f->s));
	sched_commit(&f->s, 2000);
	assert_int_equal(sched_pick(&f->s, 0, 0), 0);
	/* a failing resource is marked urgent by the loop */
	sched_mark_urgent(&f->s, KIND_R2BUCKET, "bkt3");
	assert_int_equal(sched_pick(&f->s, 1, 0), 2);
	assert_true(sched_want(KIND_R2BUCKET, "bkt3", OBS_CORS, &f->s));
}

/* The coverage period: 600 parts, 30 reads per 12.25 s, 4 kept, 1 list read
 * a pass every 5 s +-10%: 3 passes a window, 21 parts a round, 29 rounds of
 * one window and one interval, and one more. */
static void
test_coverage(void **state)
{
	(void)state;
	assert_int_equal(sched_coverage(600, 30, 4, 1, 12250, 5000, 0, 0),
	                 30 * (12250 + 5500) + 5500);
	/* few parts: every pass reads all of them */
	assert_int_equal(sched_coverage(20, 300, 45, 2, 300250, 300000, 0, 0), 330000);
	/* passes less often than the window: each finds the share free */
	assert_int_equal(sched_coverage(100, 30, 4, 1, 12250, 60000, 0, 0), 5 * 66000);
	/* the list reads alone do not fit: unbounded */
	assert_int_equal(sched_coverage(100, 10, 3, 4, 12250, 1000, 0, 0), -1);
	/* the naive loop: one interval and a pass */
	assert_int_equal(sched_coverage(9000, 1200, 0, 19, 30250, 10000, 200000, 1), 211000);
}

#define T(x) cmocka_unit_test_setup_teardown(x, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_items),
		T(test_rotation_is_fair),
		T(test_changed_first),
		T(test_coverage),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
