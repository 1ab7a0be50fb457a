/*
 * s3_creds: where the S3 client's credentials, region and endpoint come
 * from. The credential chain, first match wins:
 *   1. env: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN;
 *   2. profile: AWS_PROFILE (else "default") in AWS_SHARED_CREDENTIALS_FILE
 *      (~/.aws/credentials) then AWS_CONFIG_FILE (~/.aws/config): static keys,
 *      or credential_process (run with /bin/sh -c, its JSON read);
 *   3. web identity: AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN
 *      (AWS_ROLE_SESSION_NAME), through STS AssumeRoleWithWebIdentity
 *      (AWS_ENDPOINT_URL_STS, else the region's STS);
 *   4. container: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI (on 169.254.170.2)
 *      or _FULL_URI, with AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE (or
 *      _TOKEN) as the Authorization header (ECS, EKS Pod Identity);
 *   5. IMDSv2 (AWS_EC2_METADATA_SERVICE_ENDPOINT, else 169.254.169.254;
 *      AWS_EC2_METADATA_DISABLED=true skips it): a session token, then the
 *      instance role's credentials.
 * A source that is configured but fails (a credential_process that exits 1,
 * an STS error) is an error, not a fall-through: a silent fall-through to
 * another identity would read the wrong bucket's permissions.
 */
#ifndef ORGTRAIL_S3_CREDS_H
#define ORGTRAIL_S3_CREDS_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    char *access_key, *secret_key;
    char *session_token;          /* NULL: none */
    int64_t expiration;           /* seconds since 1970 UTC; 0: does not expire */
    const char *source;           /* static: "env", "profile", "process", "web-identity", "container", "imds" */
} s3_credentials;

/* Where requests go. */
typedef struct {
    char *region;                 /* AWS_REGION, AWS_DEFAULT_REGION, the profile's, else us-east-1 */
    char *endpoint;               /* "http://127.0.0.1:4569", no trailing '/'; NULL: AWS's */
    int path_style;               /* bucket in the path, not the host: with an endpoint */
} s3_config;

/*
 * Walks the chain into *out (zeroed first). Returns 0, -ENOENT when no
 * source is configured, or another negative errno with err set to one line
 * naming the source and what went wrong. Release with s3_credentials_clear.
 */
int s3_credentials_resolve(s3_credentials *out, char *err, size_t errlen);
/* Frees and wipes the secrets. Accepts a zeroed struct. */
void s3_credentials_clear(s3_credentials *c);

/*
 * endpoint_url: --endpoint-url, or NULL for AWS_ENDPOINT_URL_S3, then
 * AWS_ENDPOINT_URL. Returns 0 or -ENOMEM. Release with s3_config_clear.
 */
int s3_config_resolve(s3_config *cfg, const char *endpoint_url);
void s3_config_clear(s3_config *cfg);

/*
 * Small parsers shared with s3_client, for the flat documents AWS answers
 * with. The text of the first <tag>...</tag> at or after *at (entities
 * decoded), malloc'ed; *at moves past it when at is not NULL. NULL when
 * absent or out of memory.
 */
char *s3_xml_text(const char *xml, const char *tag, const char **at);
/* The string value of "key" in a flat JSON object, malloc'ed, or NULL. */
char *s3_json_text(const char *json, const char *key);
/* A CURLOPT_WRITEFUNCTION appending to the ot_buf in CURLOPT_WRITEDATA. */
size_t s3_curl_collect(char *data, size_t size, size_t n, void *userdata);

#endif
