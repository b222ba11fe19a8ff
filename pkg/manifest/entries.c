/*
 * KV entry contents: reading declared values (inline or from files) and the
 * content hash that lets a reconcile compare entries through the key listing
 * alone (issue 8: "a no-op reconcile reads no value").
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../mem/mem.h"
#include "internal.h"

int
manifest_is_text(const char *data, size_t len)
{
	size_t i = 0;

	while (i < len) {
		unsigned char c = (unsigned char)data[i];
		size_t need;

		if (c == 0)
			return 0;
		if (c < 0x80) {
			i++;
			continue;
		}
		need = (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2 : (c & 0xF8) == 0xF0 ? 3 : 9;
		if (need == 9 || len - i <= need)
			return 0;
		for (size_t k = 1; k <= need; k++)
			if (((unsigned char)data[i + k] & 0xC0) != 0x80)
				return 0;
		i += need + 1;
	}
	return 1;
}

enum errcode
manifest_entry_value(const struct kv_entry *en, char **out, size_t *len, struct err *e)
{
	struct stat st;
	size_t got = 0;
	enum errcode rc;
	int fd;

	*out = NULL;
	*len = 0;
	if (en->value_file == NULL) {
		*out = xstrndup(en->value ? en->value : "", en->value_len);
		*len = en->value_len;
		return ERR_OK;
	}
	/* confined again at read time: a symlink swapped in since validation is
	 * refused, and a FIFO neither blocks nor is read */
	if ((rc = manifest_path_open(en->value_file, en->value_root, &fd, &st, e)) != ERR_OK)
		return rc;
	if ((uint64_t)st.st_size > KV_VALUE_MAX) {
		close(fd);
		return err_set(e, ERR_IO, "'%s' is larger than %u bytes", en->value_file,
		               KV_VALUE_MAX);
	}
	*out = xmalloc((size_t)st.st_size + 1);
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, *out + got, (size_t)st.st_size - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	(*out)[got] = '\0';
	*len = got;
	return ERR_OK;
}

void
manifest_entry_hash(const struct kv_entry *en, const char *val, size_t len, char out[17])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx;
	char mode[48];

	if (en->ttl_seconds)
		snprintf(mode, sizeof(mode), "ttl:%lld", (long long)en->ttl_seconds);
	else if (en->expiration)
		snprintf(mode, sizeof(mode), "exp:%lld", (long long)en->expiration);
	else
		snprintf(mode, sizeof(mode), "none");
	ctx = EVP_MD_CTX_new();
	EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	EVP_DigestUpdate(ctx, "cfs-kv-v1", 10);
	EVP_DigestUpdate(ctx, val, len);
	EVP_DigestUpdate(ctx, "", 1);
	if (en->metadata_json)
		EVP_DigestUpdate(ctx, en->metadata_json, strlen(en->metadata_json));
	EVP_DigestUpdate(ctx, "", 1);
	EVP_DigestUpdate(ctx, mode, strlen(mode));
	EVP_DigestFinal_ex(ctx, md, &mdlen);
	EVP_MD_CTX_free(ctx);
	for (int k = 0; k < 8; k++)
		snprintf(out + 2 * k, 3, "%02x", md[k]);
}

enum errcode
manifest_hash_entries(struct manifest_set *set, struct err *e)
{
	for (size_t i = 0; i < set->n; i++) {
		struct kv_namespace_spec *kv = &set->items[i].u.kv;

		if (set->items[i].kind != KIND_KVNAMESPACE)
			continue;
		for (size_t j = 0; j < kv->nentries; j++) {
			struct kv_entry *en = &kv->entries[j];
			char *val;
			size_t len;
			enum errcode rc;

			if ((rc = manifest_entry_value(en, &val, &len, e)) != ERR_OK)
				return rc;
			en->binary = !manifest_is_text(val, len);
			manifest_entry_hash(en, val, len, en->hash);
			free(val);
		}
	}
	return ERR_OK;
}
