/* Unit tests for pkg/yaml/ydoc: positions, duplicate keys, aliases, merge
 * keys and the hostile-input limits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../pkg/mem/mem.h"
#include "../../pkg/yaml/ydoc.h"

struct fx {
	struct diags d;
	struct ystream *s;
};

static int
setup(void **state)
{
	struct fx *f = xcalloc(1, sizeof(*f));

	diags_init(&f->d);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	ystream_free(f->s);
	diags_release(&f->d);
	free(f);
	return 0;
}

static void
parse(struct fx *f, const char *text)
{
	f->s = ydoc_parse("t.yaml", text, strlen(text), &f->d);
}

static void
test_positions(void **state)
{
	struct fx *f = *state;
	const struct ynode *root, *spec, *v;

	parse(f, "a: 1\nspec:\n  name: \"x y\"\n  list: [p, q]\n");
	assert_int_equal(f->d.n, 0);
	assert_int_equal(f->s->ndocs, 1);
	root = f->s->docs[0].root;
	assert_int_equal(root->kind, YNODE_MAP);
	spec = ynode_get(root, "spec");
	assert_non_null(spec);
	v = ynode_get(spec, "name");
	assert_string_equal(v->s, "x y");
	assert_int_equal(v->line, 3);
	assert_int_equal(v->col, 9);
	assert_false(v->plain);
	v = ynode_get(spec, "list");
	assert_int_equal(v->kind, YNODE_SEQ);
	assert_int_equal(v->n, 2);
	assert_int_equal(v->items[1]->col, 13);
	assert_true(ynode_get(root, "a")->plain);
}

static void
test_multi_docs_and_empty(void **state)
{
	struct fx *f = *state;

	parse(f, "---\na: 1\n---\n---\nb: 2\n");
	assert_int_equal(f->d.n, 0);
	assert_int_equal(f->s->ndocs, 3);
	assert_non_null(f->s->docs[0].root);
	assert_true(ynode_is_null(f->s->docs[1].root));
	assert_int_equal(f->s->docs[2].line, 4);
}

static void
test_duplicate_key(void **state)
{
	struct fx *f = *state;

	parse(f, "a: 1\nb: 2\na: 3\n");
	assert_int_equal(f->d.n, 1);
	assert_int_equal(f->d.v[0].line, 3);
	assert_int_equal(f->d.v[0].col, 1);
	assert_string_equal(f->d.v[0].msg, "duplicate key 'a' (first at line 1, column 1)");
}

static void
test_alias_and_merge(void **state)
{
	struct fx *f = *state;
	const struct ynode *root, *b;

	parse(f, "base: &b {x: 1, y: 2}\nother:\n  <<: *b\n  y: 3\nref: *b\n");
	assert_int_equal(f->d.n, 0);
	root = f->s->docs[0].root;
	b = ynode_get(root, "other");
	assert_int_equal(b->n, 2);
	assert_string_equal(ynode_get(b, "x")->s, "1");
	assert_string_equal(ynode_get(b, "y")->s, "3");
	assert_ptr_equal(ynode_get(root, "ref"), ynode_get(root, "base"));
}

/* Reproducer: a rejected tag on a mapping or sequence once pushed no frame, so
 * its end event read stack[-1]. The node is now kept and the tag reported. */
static void
test_rejected_tag_keeps_shape(void **state)
{
	struct fx *f = *state;
	const struct ynode *root, *a;

	parse(f, "a: !x {b: 1}\nc: !y [1, 2]\nd: !z e\nf: g\n");
	assert_int_equal(f->d.n, 3);
	assert_string_equal(f->d.v[0].msg, "unsupported tag '!x'");
	assert_int_equal(f->d.v[0].line, 1);
	assert_int_equal(f->d.v[0].col, 4);
	assert_int_equal(f->s->ndocs, 1);
	root = f->s->docs[0].root;
	assert_int_equal(root->n, 4);
	a = ynode_get(root, "a");
	assert_int_equal(a->kind, YNODE_MAP);
	assert_string_equal(ynode_get(a, "b")->s, "1");
	assert_int_equal(ynode_get(root, "c")->n, 2);
	assert_false(ynode_get(root, "d")->plain);
	assert_string_equal(ynode_get(root, "f")->s, "g");
}

static void
test_rejected_tag_nested_and_root(void **state)
{
	struct fx *f = *state;

	parse(f, "!x\n- !y [1]\n- !z {a: !w [b]}\n");
	assert_int_equal(f->d.n, 4);
	assert_int_equal(f->s->ndocs, 1);
	assert_int_equal(f->s->docs[0].root->kind, YNODE_SEQ);
	assert_int_equal(f->s->docs[0].root->n, 2);
}

static void
test_billion_laughs_refused(void **state)
{
	struct fx *f = *state;
	struct buf b;

	buf_init(&b, 1 << 20);
	buf_puts(&b, "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
	for (int i = 1; i < 10; i++)
		buf_printf(&b, "a%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d]\n",
		           i, i, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1);
	parse(f, b.data);
	buf_release(&b);
	assert_int_equal(f->d.n, 1);
	assert_non_null(strstr(f->d.v[0].msg, "expands to more than"));
	assert_int_equal(f->s->ndocs, 0);
}

static void
test_depth_refused(void **state)
{
	struct fx *f = *state;
	char text[300];
	size_t o = 0;

	for (int i = 0; i < 65; i++)
		text[o++] = '[';
	for (int i = 0; i < 65; i++)
		text[o++] = ']';
	text[o] = '\0';
	parse(f, text);
	assert_int_equal(f->d.n, 1);
	assert_int_equal(f->d.v[0].col, 65);
	assert_string_equal(f->d.v[0].msg, "nesting deeper than 64 levels; refused");
}

static void
test_depth_64_allowed(void **state)
{
	struct fx *f = *state;
	char text[300];
	size_t o = 0;

	for (int i = 0; i < 64; i++)
		text[o++] = '[';
	for (int i = 0; i < 64; i++)
		text[o++] = ']';
	text[o] = '\0';
	parse(f, text);
	assert_int_equal(f->d.n, 0);
}

static void
test_nul_and_utf8(void **state)
{
	struct fx *f = *state;

	f->s = ydoc_parse("t.yaml", "a: b\nc: d\0e\n", 12, &f->d);
	assert_int_equal(f->d.n, 1);
	assert_int_equal(f->d.v[0].line, 2);
	assert_int_equal(f->d.v[0].col, 5);
	ystream_free(f->s);
	f->s = NULL;
	diags_release(&f->d);
	diags_init(&f->d);
	parse(f, "a: caf\xc3\xa9\nb: \xe2\x82\n");
	assert_int_equal(f->d.n, 1);
	assert_int_equal(f->d.v[0].line, 2);
	assert_int_equal(f->d.v[0].col, 4);
	assert_non_null(strstr(f->d.v[0].msg, "invalid UTF-8"));
}

static void
test_syntax_error_keeps_earlier_docs(void **state)
{
	struct fx *f = *state;

	parse(f, "a: 1\n---\nb: [1, 2\n");
	assert_int_equal(f->d.n, 1);
	assert_non_null(strstr(f->d.v[0].msg, "invalid YAML"));
	assert_int_equal(f->s->ndocs, 1);
	assert_string_equal(ynode_get(f->s->docs[0].root, "a")->s, "1");
}

static void
test_too_large(void **state)
{
	struct fx *f = *state;
	size_t n = YDOC_MAX_FILE + 1;
	char *big = xmalloc(n);

	memset(big, 'a', n);
	f->s = ydoc_parse("big.yaml", big, n, &f->d);
	free(big);
	assert_int_equal(f->d.n, 1);
	assert_non_null(strstr(f->d.v[0].msg, "at most 16777216 bytes"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_positions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_multi_docs_and_empty, setup, teardown),
		cmocka_unit_test_setup_teardown(test_duplicate_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_alias_and_merge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rejected_tag_keeps_shape, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rejected_tag_nested_and_root, setup, teardown),
		cmocka_unit_test_setup_teardown(test_billion_laughs_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_depth_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_depth_64_allowed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nul_and_utf8, setup, teardown),
		cmocka_unit_test_setup_teardown(test_syntax_error_keeps_earlier_docs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_too_large, setup, teardown),
	};

	return cmocka_run_group_tests_name("ydoc", tests, NULL, NULL);
}
