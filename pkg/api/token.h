/* token: the API token's own id (token.c). */
#ifndef CFS_API_TOKEN_H
#define CFS_API_TOKEN_H

#include "api.h"

/* The id of the token the client holds (token verify's result.id); it is
 * R2's S3 access key id for that token. Free *id. */
enum errcode api_token_id(struct api *a, char **id, struct err *e) WARN_UNUSED_RESULT;

#endif
