/*
 * url: endpoint URLs checked with libcurl's own URL parser (curl_url), the one
 * that libcurl connects with, rather than by string prefix: a prefix check
 * takes "http://127.0.0.1@198.51.100.7/" (userinfo "127.0.0.1", host
 * 198.51.100.7) or "http://localhost.example.com/" for loopback and sends the
 * token there in clear.
 */
#ifndef CFS_URL_H
#define CFS_URL_H

#include "../err/err.h"

/* Longest endpoint URL we accept; ours are under 100 bytes. */
#define URL_MAX 2048

/*
 * Checks an endpoint that a token will be sent to: `what` names it in
 * messages ("endpoint"). https:// to any host, or http:// to a loopback host
 * only (url_host_is_loopback); never a user name or password (userinfo), a
 * query or a fragment. On ERR_OK, *norm (when not NULL) is libcurl's
 * normalised form of the URL, with no trailing '/': use it, not the text
 * given, so that what was checked is what is connected to. Free it.
 * A URL holding userinfo is never echoed in the message (it may hold a
 * password).
 */
enum errcode url_check_endpoint(const char *url, const char *what, char **norm,
                                struct err *e) WARN_UNUSED_RESULT;

/*
 * 1 for a loopback host as libcurl reports it: "localhost" exactly (any
 * case), an IPv4 address in 127.0.0.0/8, or the IPv6 address ::1 (with or
 * without brackets). "localhost.example.com" and "127.0.0.1.nip.io" are not.
 */
int url_host_is_loopback(const char *host);

#endif
