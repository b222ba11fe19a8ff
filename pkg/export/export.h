/*
 * export: reads an account through the API client and writes cfstorage
 * manifests for what it holds, so a team can start from what exists instead of
 * retyping it (issue 8, `cfstorage export`). Every exported R2Bucket and
 * KVNamespace carries `adopt: true` and `deletionPolicy: Retain`, so the first
 * plan on the output shows only adoptions and nothing is ever deleted because
 * of it. Secrets Store secrets are listed as comments: their values cannot be
 * read back, so no manifest could reproduce them.
 *
 * What is not written, and why (each is said in a comment in the output):
 * - `locationHint`: Cloudflare reports where a bucket is, not the hint it was
 *   created with (hints are best effort), so a hint read back would be a guess.
 * - Cloudflare's "Default Multipart Abort Rule": cfstorage keeps it implicitly
 *   (docs/decisions.md), so it is left out, and `lifecycle` with it when it is
 *   the only rule.
 * - D1 `migrations` and `locationHint`: the account does not say which folder
 *   a schema came from, nor the hint a database was created with. A
 *   D1Database is exported with its name, jurisdiction and read replication;
 *   declaring `migrations.dir` later counts the rows of its migrations table
 *   as applied.
 * - KV keys that a manifest cannot declare (whitespace or control characters,
 *   "." or "..", not UTF-8): listed in a comment and left alone by the plan.
 */
#ifndef CFS_EXPORT_H
#define CFS_EXPORT_H

#include <stdio.h>

#include "../api/api.h"
#include "../err/err.h"

/* A KV value is written inline when it is UTF-8 text without NUL bytes and
 * shorter than this; otherwise to a file under data/ beside the YAML. */
#define EXPORT_INLINE_MAX 4096
/* Longest file name written under data/ (the sanitised key part). */
#define EXPORT_DATA_NAME_MAX 120
/* Secrets Store list pages we follow (100 secrets a page) before giving up. */
#define EXPORT_MAX_SECRET_PAGES 1000
/* Page size for Secrets Store lists (Cloudflare's maximum). */
#define EXPORT_SECRETS_PAGE 100

/* The files written with an output directory, one per kind. */
#define EXPORT_FILE_BUCKETS "r2-buckets.yaml"
#define EXPORT_FILE_KV "kv-namespaces.yaml"
#define EXPORT_FILE_SECRETS "secrets.yaml"
#define EXPORT_FILE_D1 "d1-databases.yaml"
#define EXPORT_DATA_DIR "data"

struct export_opts {
	/* NULL: every document to `out`, separated by `---`. Otherwise one file
	 * per kind in this directory (created when missing; files replaced). */
	const char *out_dir;
	/* Also export each namespace's keys as `entries` (needs out_dir: values
	 * that are not short text go to files under out_dir/data/). */
	int with_entries;
	/* 0 for every kind, or KIND_R2BUCKET, KIND_KVNAMESPACE, KIND_SECRET,
	 * KIND_D1DATABASE. */
	int kind;
	/* Replace files (and the data folder) a previous export wrote; without it
	 * an existing target is refused before any request. */
	int force;
	/* The YAML without out_dir; with out_dir one "wrote FILE: N KIND" line
	 * per file, or nothing when NULL. Borrowed. */
	FILE *out;
};

/*
 * Reads every R2 bucket (default, eu and fedramp jurisdictions) with its
 * lifecycle rules and CORS policy, every KV namespace (and, with
 * with_entries, every key with its value, metadata and expiration) and every
 * Secrets Store secret name, then writes the manifests. The YAML is written
 * only after every read succeeded (value files under data/ are written as
 * values arrive, so a failed run may leave some of those). ERR_INVALID for
 * options that do not go together, ERR_IO when a file cannot be written,
 * else the API's error.
 */
enum errcode export_run(struct api *a, const struct export_opts *o, struct err *e)
	WARN_UNUSED_RESULT;

#endif
