#include "url.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../mem/mem.h"

int
url_host_is_loopback(const char *host)
{
	struct in_addr a4;
	struct in6_addr a6;
	char inner[64];
	size_t l = strlen(host);

	if (strcasecmp(host, "localhost") == 0)
		return 1;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (l >= 2 && host[0] == '[' && host[l - 1] == ']') {
		if (l - 2 >= sizeof(inner))
			return 0;
		memcpy(inner, host + 1, l - 2);
		inner[l - 2] = '\0';
		host = inner;
	}
	return inet_pton(AF_INET6, host, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
}

/* 1 when part p of u is present (libcurl returns CURLUE_NO_* when absent). */
static int
has_part(CURLU *u, CURLUPart p)
{
	char *s = NULL;
	int has = curl_url_get(u, p, &s, 0) == CURLUE_OK && s != NULL;

	curl_free(s);
	return has;
}

enum errcode
url_check_endpoint(const char *url, const char *what, char **norm, struct err *e)
{
	CURLU *u = NULL;
	char *scheme = NULL, *host = NULL, *full = NULL;
	int secret = strchr(url, '@') != NULL; /* may hold a password: never echoed */
	enum errcode rc = ERR_OK;
	CURLUcode uc;
	size_t l;

	if (norm)
		*norm = NULL;
	if (strlen(url) > URL_MAX)
		return err_set(e, ERR_INVALID, "%s is longer than %d bytes", what, URL_MAX);
	if (strncasecmp(url, "https://", 8) != 0 && strncasecmp(url, "http://", 7) != 0) {
		if (secret)
			return err_set(e, ERR_INVALID, "%s must start with https://", what);
		return err_set(e, ERR_INVALID, "%s '%.128s' must start with https://", what, url);
	}
	u = curl_url();
	if ((uc = curl_url_set(u, CURLUPART_URL, url, 0)) != CURLUE_OK) {
		if (secret)
			rc = err_set(e, ERR_INVALID, "%s is not a valid URL: %s", what,
			             curl_url_strerror(uc));
		else
			rc = err_set(e, ERR_INVALID, "%s '%.128s' is not a valid URL: %s", what, url,
			             curl_url_strerror(uc));
		goto out;
	}
	if (has_part(u, CURLUPART_USER) || has_part(u, CURLUPART_PASSWORD) ||
	    has_part(u, CURLUPART_OPTIONS)) {
		rc = err_set(e, ERR_INVALID, "%s refused: it holds a user name or password "
		             "(text before '@'); give the host alone", what);
		goto out;
	}
	if (has_part(u, CURLUPART_QUERY) || has_part(u, CURLUPART_FRAGMENT)) {
		rc = err_set(e, ERR_INVALID, "%s '%.128s' must not have a query or fragment",
		             what, url);
		goto out;
	}
	if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_URL, &full, 0) != CURLUE_OK) {
		rc = err_set(e, ERR_INVALID, "%s '%.128s' has no host", what, url);
		goto out;
	}
	if (strcmp(scheme, "https") != 0 && !url_host_is_loopback(host)) {
		rc = err_set(e, ERR_INVALID, "plain http:// %s '%.128s' refused: only loopback "
		             "addresses may skip TLS ('%.64s' is not in 127.0.0.0/8, ::1 or "
		             "localhost)", what, url, host);
		goto out;
	}
	if (norm) {
		l = strlen(full);
		while (l > 0 && full[l - 1] == '/')
			l--;
		*norm = xstrndup(full, l);
	}
out:
	curl_free(full);
	curl_free(host);
	curl_free(scheme);
	curl_url_cleanup(u);
	return rc;
}
