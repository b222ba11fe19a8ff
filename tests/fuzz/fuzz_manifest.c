/*
 * Fuzz target: the manifest loader and validator. The input is one manifest
 * file's bytes; it goes through the same path as `cfstorage validate -f F`
 * (YAML parse, typed parse, per-document and cross-document checks), then
 * the diagnostics are sorted and printed in both formats and every inline KV
 * entry is hashed, as apply would. Nothing is read from disk except the
 * stat() that a valueFrom.file path gets.
 */
#include <stdio.h>
#include <stdlib.h>

#include "../../pkg/diag/diag.h"
#include "../../pkg/manifest/manifest.h"
#include "fuzz.h"

static FILE *devnull;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct manifest_set set;
	struct diags d;

	if (devnull == NULL && (devnull = fopen("/dev/null", "w")) == NULL)
		abort();
	manifest_set_init(&set);
	diags_init(&d);
	manifest_load_buffer("fuzz.yaml", (const char *)data, size, &set, &d);
	manifest_check_set(&set, &d);
	diags_sort(&d);
	diags_print_text(&d, devnull);
	diags_print_json(&d, devnull);
	if (d.n == 0) {
		for (size_t i = 0; i < set.n; i++) {
			struct resource *r = &set.items[i];

			if (r->kind != KIND_KVNAMESPACE)
				continue;
			for (size_t j = 0; j < r->u.kv.nentries; j++) {
				struct kv_entry *en = &r->u.kv.entries[j];

				if (en->value != NULL)
					manifest_entry_hash(en, en->value, en->value_len, en->hash);
			}
		}
	}
	diags_release(&d);
	manifest_set_free(&set);
	return 0;
}
