#include "s3_client.h"
#include "s3_sign.h"
#include "util.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char empty_sha256[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

struct s3_client {
    s3_config cfg;
    s3_credentials creds;
    int has_creds;
    s3_retry_policy policy;
    char *host_suffix;            /* endpoint: "127.0.0.1:4569"; AWS: "s3.REGION.amazonaws.com" */
    char *scheme;                 /* "https" */
    CURL *list_easy;              /* the listing's handle, kept for its connection */
    s3_counts counts;
    uint64_t rng;
};

/* ---- the client -------------------------------------------------------- */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char *dup_or_null(const char *s, int *oom)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        *oom = 1;
    return d;
}

s3_client *s3_client_create(const s3_config *cfg, const s3_credentials *creds, const s3_retry_policy *policy)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return NULL;
    s3_client *c = calloc(1, sizeof *c);
    if (!c) {
        curl_global_cleanup();
        return NULL;
    }
    int oom = 0;
    c->cfg.region = dup_or_null(cfg && cfg->region ? cfg->region : "us-east-1", &oom);
    c->cfg.endpoint = dup_or_null(cfg ? cfg->endpoint : NULL, &oom);
    c->cfg.path_style = cfg ? cfg->path_style : 0;
    if (creds && creds->access_key) {
        c->has_creds = 1;
        c->creds.access_key = dup_or_null(creds->access_key, &oom);
        c->creds.secret_key = dup_or_null(creds->secret_key, &oom);
        c->creds.session_token = dup_or_null(creds->session_token, &oom);
        c->creds.expiration = creds->expiration;
        c->creds.source = creds->source;
    }
    if (policy)
        c->policy = *policy;
    if (!c->policy.max_attempts)
        c->policy.max_attempts = 6;
    if (!c->policy.backoff_base_ms)
        c->policy.backoff_base_ms = 100;
    if (!c->policy.backoff_cap_ms)
        c->policy.backoff_cap_ms = 5000;
    if (!c->policy.timeout_ms)
        c->policy.timeout_ms = 30000;
    ot_buf host = { 0 };
    if (c->cfg.endpoint) {
        const char *e = c->cfg.endpoint, *sep = strstr(e, "://");
        c->scheme = sep ? strndup(e, (size_t)(sep - e)) : strdup("https");
        const char *h = sep ? sep + 3 : e;
        buf_printf(&host, "%.*s", (int)strcspn(h, "/"), h);
    } else {
        c->scheme = strdup("https");
        buf_printf(&host, "s3.%s.amazonaws.com", c->cfg.region ? c->cfg.region : "");
    }
    if (s3_buf_terminate(&host) < 0)
        oom = 1;
    c->host_suffix = host.data;
    c->list_easy = curl_easy_init();
    c->rng = (uint64_t)now_ms() * 0x9E3779B97F4A7C15ull | 1;
    if (oom || !c->scheme || !c->list_easy) {
        s3_client_free(c);
        return NULL;
    }
    return c;
}

void s3_client_free(s3_client *c)
{
    if (!c)
        return;
    s3_config_clear(&c->cfg);
    s3_credentials_clear(&c->creds);
    free(c->host_suffix);
    free(c->scheme);
    curl_easy_cleanup(c->list_easy);
    free(c);
    curl_global_cleanup();        /* balances s3_client_create's init (counted by libcurl) */
}

int s3_client_from_env(const char *endpoint_url, s3_client **out, char *err, size_t errlen)
{
    s3_config cfg;
    s3_credentials creds;
    char why[256] = "";
    int rc = s3_config_resolve(&cfg, endpoint_url);
    if (rc) {
        snprintf(err, errlen, "%s", rc == -ENOMEM ? "out of memory" : "bad --endpoint-url or AWS_ENDPOINT_URL_S3");
        return rc == -ENOMEM ? rc : -EACCES;
    }
    rc = s3_credentials_resolve(&creds, why, sizeof why);
    if (rc == -ENOENT) {
        snprintf(err, errlen, "no AWS credentials (looked for AWS_ACCESS_KEY_ID, AWS_PROFILE, web identity, "
                              "container credentials and IMDS)");
        rc = -EACCES;
    } else if (rc == -ENOMEM) {
        snprintf(err, errlen, "out of memory");
    } else if (rc) {
        snprintf(err, errlen, "credentials: %s", why);
        rc = -EACCES;
    } else if (!(*out = s3_client_create(&cfg, &creds, NULL))) {
        rc = -ENOMEM;
    }
    s3_credentials_clear(&creds);
    s3_config_clear(&cfg);
    return rc;
}

s3_counts s3_client_counts(const s3_client *c)
{
    return c->counts;
}

int s3_url_parse(const char *url, char **bucket, char **prefix)
{
    *bucket = *prefix = NULL;
    if (strncmp(url, "s3://", 5) != 0 || url[5] == '\0' || url[5] == '/')
        return -EINVAL;
    const char *b = url + 5, *slash = strchr(b, '/');
    *bucket = slash ? strndup(b, (size_t)(slash - b)) : strdup(b);
    *prefix = strdup(slash ? slash + 1 : "");
    if (!*bucket || !*prefix) {
        free(*bucket);
        free(*prefix);
        *bucket = *prefix = NULL;
        return -ENOMEM;
    }
    return 0;
}

/* Full jitter on a capped exponential: attempt 1 waits up to base, then 2x, ... */
static long backoff_ms(s3_client *c, unsigned attempt)
{
    uint64_t cap = c->policy.backoff_base_ms;
    for (unsigned i = 1; i < attempt && cap < c->policy.backoff_cap_ms; i++)
        cap *= 2;
    if (cap > c->policy.backoff_cap_ms)
        cap = c->policy.backoff_cap_ms;
    c->rng ^= c->rng >> 12;
    c->rng ^= c->rng << 25;
    c->rng ^= c->rng >> 27;
    return (long)((c->rng * 0x2545F4914F6CDD1Dull) % (cap + 1));
}

/* Credentials that expire are fetched again five minutes before. */
static int refresh_credentials(s3_client *c, char *err, size_t errlen)
{
    if (!c->has_creds || !c->creds.expiration || c->creds.expiration - 300 > (int64_t)time(NULL))
        return 0;
    s3_credentials fresh;
    int rc = s3_credentials_resolve(&fresh, err, errlen);
    if (rc < 0)
        return rc;
    s3_credentials_clear(&c->creds);
    c->creds = fresh;
    return 0;
}

/*
 * The URL and signed headers of a request on bucket: key is the object
 * (NULL: the bucket, for a listing), query the encoded query string or
 * NULL, extra more headers to send and sign. Returns 0 or a negative errno.
 */
static int build_request(s3_client *c, const char *method, const char *bucket, const char *key, const char *query,
                         const s3_header *extra, size_t nextra, ot_buf *url, struct curl_slist **headers, char *err,
                         size_t errlen)
{
    int rc = refresh_credentials(c, err, errlen);
    if (rc < 0)
        return rc;
    rc = -ENOMEM;
    ot_buf host = { 0 }, path = { 0 }, line = { 0 };
    /* Virtual-hosted names for AWS, unless the bucket's dots would break TLS
     * names; path style for an endpoint (MinIO, s3rver, a proxy). */
    int path_style = c->cfg.path_style || strchr(bucket, '.') != NULL;
    if ((path_style ? buf_printf(&host, "%s", c->host_suffix) : buf_printf(&host, "%s.%s", bucket, c->host_suffix)) < 0 ||
        s3_buf_terminate(&host) < 0)
        goto out;
    if (buf_printf(&path, "%s%s/%s", path_style ? "/" : "", path_style ? bucket : "", key ? key : "") < 0 ||
        s3_buf_terminate(&path) < 0)
        goto out;
    url->len = 0;
    if (buf_printf(url, "%s://%s", c->scheme, host.data) < 0 || s3_uri_encode(url, path.data, path.len, 1) < 0 ||
        (query && buf_printf(url, "?%s", query) < 0) || s3_buf_terminate(url) < 0)
        goto out;
    s3_header h[8];
    size_t nh = 0;
    h[nh++] = (s3_header){ "host", host.data };
    h[nh++] = (s3_header){ "x-amz-content-sha256", empty_sha256 };
    for (size_t i = 0; i < nextra && nh < 8; i++)
        h[nh++] = extra[i];
    struct curl_slist *list = NULL;
    for (size_t i = 0; i < nh; i++) {
        line.len = 0;
        if (buf_printf(&line, "%s: %s", h[i].name, h[i].value) < 0 || s3_buf_terminate(&line) < 0)
            goto out;
        list = curl_slist_append(list, line.data);
    }
    if (c->has_creds) {
        s3_sign_request r = { method, path.data, query, h, nh, empty_sha256 };
        s3_sign_key k = { c->creds.access_key, c->creds.secret_key, c->creds.session_token, c->cfg.region, "s3",
                          (int64_t)time(NULL) };
        s3_signature sig;
        rc = s3_sign(&r, &k, &sig, NULL);
        if (rc < 0) {
            curl_slist_free_all(list);
            goto out;
        }
        rc = -ENOMEM;
        line.len = 0;
        if (buf_printf(&line, "x-amz-date: %s", sig.amz_date) < 0 || s3_buf_terminate(&line) < 0)
            goto out;
        list = curl_slist_append(list, line.data);
        if (c->creds.session_token && *c->creds.session_token) {
            line.len = 0;
            if (buf_printf(&line, "x-amz-security-token: %s", c->creds.session_token) < 0 || s3_buf_terminate(&line) < 0)
                goto out;
            list = curl_slist_append(list, line.data);
        }
        line.len = 0;
        if (buf_printf(&line, "Authorization: %s", sig.authorization) < 0 || s3_buf_terminate(&line) < 0)
            goto out;
        list = curl_slist_append(list, line.data);
    }
    list = curl_slist_append(list, "Accept:");   /* nothing unsigned that S3 would not expect */
    *headers = list;
    rc = list ? 0 : -ENOMEM;
out:
    buf_free(&host);
    buf_free(&path);
    buf_free(&line);
    return rc;
}

static int retryable_status(long status, const char *code)
{
    if (status == 500 || status == 502 || status == 503 || status == 504)
        return 1;
    return code && (strcmp(code, "SlowDown") == 0 || strcmp(code, "InternalError") == 0 ||
                    strcmp(code, "RequestTimeout") == 0);
}

static int retryable_curl(CURLcode cc)
{
    return cc == CURLE_PARTIAL_FILE || cc == CURLE_RECV_ERROR || cc == CURLE_SEND_ERROR ||
           cc == CURLE_GOT_NOTHING || cc == CURLE_OPERATION_TIMEDOUT || cc == CURLE_COULDNT_CONNECT ||
           cc == CURLE_HTTP2 || cc == CURLE_HTTP2_STREAM || cc == CURLE_SSL_CONNECT_ERROR;
}

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* One ListObjectsV2 page, retried. Returns 0 with the XML in resp, or a
 * negative errno with err naming the bucket, the prefix and the S3 code. */
static int list_page(s3_client *c, const char *bucket, const char *prefix, const char *token, ot_buf *resp,
                     char *err, size_t errlen)
{
    int rc = -ENOMEM;
    ot_buf query = { 0 }, url = { 0 };
    char *code = NULL;
    if (token && (buf_append_str(&query, "continuation-token=") < 0 || s3_uri_encode(&query, token, strlen(token), 0) < 0 ||
                  buf_append(&query, "&", 1) < 0))
        goto out;
    if (buf_append_str(&query, "delimiter=%2F&list-type=2&prefix=") < 0 ||
        s3_uri_encode(&query, prefix, strlen(prefix), 0) < 0 || s3_buf_terminate(&query) < 0)
        goto out;
    for (unsigned attempt = 1;; attempt++) {
        struct curl_slist *h = NULL;
        rc = build_request(c, "GET", bucket, NULL, query.data, NULL, 0, &url, &h, err, errlen);
        if (rc < 0)
            goto out;
        resp->len = 0;
        CURL *e = c->list_easy;
        curl_easy_reset(e);
        curl_easy_setopt(e, CURLOPT_URL, url.data);
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, s3_curl_collect);
        curl_easy_setopt(e, CURLOPT_WRITEDATA, resp);
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, (c->policy.timeout_ms + 999) / 1000);
        curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, c->policy.timeout_ms);
        c->counts.s3_list_requests++;
        CURLcode cc = curl_easy_perform(e);
        curl_slist_free_all(h);
        long status = 0;
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
        if (s3_buf_terminate(resp) < 0) {
            rc = -ENOMEM;
            goto out;
        }
        free(code);
        code = cc == CURLE_OK && status != 200 ? s3_xml_text(resp->data, "Code", NULL) : NULL;
        if (cc == CURLE_OK && status == 200) {
            rc = 0;
            goto out;
        }
        int again = cc == CURLE_OK ? retryable_status(status, code) : retryable_curl(cc);
        if (!again || attempt >= c->policy.max_attempts) {
            if (cc == CURLE_OK)
                snprintf(err, errlen, "s3://%s/%s: listing failed: HTTP %ld %s%s", bucket, prefix, status,
                         code ? code : "(no S3 error code)", again ? " (retries exhausted)" : "");
            else
                snprintf(err, errlen, "s3://%s/%s: listing failed: %s%s", bucket, prefix, curl_easy_strerror(cc),
                         again ? " (retries exhausted)" : "");
            rc = status == 403 ? -EACCES : status == 404 ? -ENOENT : -EIO;
            goto out;
        }
        c->counts.s3_retries++;
        sleep_ms(backoff_ms(c, attempt));
    }
out:
    free(code);
    buf_free(&query);
    buf_free(&url);
    return rc;
}

/* ---- the lister ---------------------------------------------------------- */

typedef struct {
    char *name;                   /* below the folder; a folder's without its '/' */
    int is_dir;
    uint64_t size;
    uint64_t version;             /* FNV-1a of the ETag (else LastModified): changes when the object is rewritten */
} list_entry;

typedef struct {
    char *folder;                 /* "a/b/" ("" for the bucket's root) */
    list_entry *e;
    size_t n, cap, next;
} list_frame;

struct s3_lister {
    s3_client *c;
    char *bucket, *root;
    walk_options opt;
    int pruning;
    list_frame *stack;
    size_t depth, cap;
    char *current;
    uint64_t current_version;     /* of current: s3_lister_version */
    walk_counts counts;
    int started, failed;
};

s3_lister *s3_lister_create(s3_client *c, const char *bucket, const char *prefix, const walk_options *opt)
{
    s3_lister *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    l->c = c;
    l->bucket = strdup(bucket);
    size_t pl = strlen(prefix);
    l->root = malloc(pl + 2);
    if (!l->bucket || !l->root) {
        s3_lister_free(l);
        return NULL;
    }
    memcpy(l->root, prefix, pl + 1);
    if (pl > 0 && prefix[pl - 1] != '/')
        memcpy(l->root + pl, "/", 2);
    if (opt)
        l->opt = *opt;
    l->pruning = l->opt.has_since || l->opt.has_until || l->opt.accounts || l->opt.regions || l->opt.org_regions;
    return l;
}

static void frame_release(list_frame *f)
{
    for (size_t i = 0; i < f->n; i++)
        free(f->e[i].name);
    free(f->e);
    free(f->folder);
    memset(f, 0, sizeof *f);
}

void s3_lister_free(s3_lister *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->depth; i++)
        frame_release(&l->stack[i]);
    free(l->stack);
    free(l->bucket);
    free(l->root);
    free(l->current);
    free(l);
}

uint64_t s3_lister_version(const s3_lister *l)
{
    return l->current_version;
}

walk_counts s3_lister_counts(const s3_lister *l)
{
    return l->counts;
}

static uint64_t version_hash(const char *etag, const char *modified)
{
    const char *v = etag ? etag : modified ? modified : "";
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *v; v++)
        h = (h ^ (uint8_t)*v) * 0x100000001b3ull;
    return h;
}

static int frame_add(list_frame *f, const char *name, size_t len, int is_dir, uint64_t size, uint64_t version)
{
    if (ot_grow(&f->e, &f->cap, f->n, sizeof *f->e, 64))
        return -ENOMEM;
    char *n = strndup(name, len);
    if (!n)
        return -ENOMEM;
    f->e[f->n++] = (list_entry){ n, is_dir, size, version };
    return 0;
}

static int cmp_entries(const void *a, const void *b)
{
    const list_entry *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : x->is_dir - y->is_dir;
}

static int push_frame(s3_lister *l, char *folder)
{
    if (ot_grow(&l->stack, &l->cap, l->depth, sizeof *l->stack, 16)) {
        free(folder);
        return -ENOMEM;
    }
    l->stack[l->depth++] = (list_frame){ .folder = folder };
    return 0;
}

/* Lists folder (every page) into a new frame, entries sorted the way a
 * local walk sorts a directory. Returns 0, WALK_ERROR or -ENOMEM. */
static int list_folder(s3_lister *l, char *folder, char *err, size_t errlen)
{
    int rc = push_frame(l, folder);
    if (rc < 0)
        return rc;
    list_frame *f = &l->stack[l->depth - 1];
    size_t fl = strlen(folder);
    ot_buf resp = { 0 };
    char *token = NULL;
    do {
        rc = list_page(l->c, l->bucket, folder, token, &resp, err, errlen);
        free(token);
        token = NULL;
        if (rc == -ENOMEM)
            goto out;
        if (rc < 0) {
            rc = WALK_ERROR;
            goto out;
        }
        const char *at = resp.data;
        char *contents;
        while ((contents = s3_xml_text(resp.data, "Contents", &at)) != NULL) {
            char *key = s3_xml_text(contents, "Key", NULL), *size = s3_xml_text(contents, "Size", NULL);
            char *etag = s3_xml_text(contents, "ETag", NULL), *modified = s3_xml_text(contents, "LastModified", NULL);
            if (key && strncmp(key, folder, fl) == 0 && key[fl] != '\0')   /* not the folder's own marker */
                rc = frame_add(f, key + fl, strlen(key + fl), 0, size ? strtoull(size, NULL, 10) : 0,
                               version_hash(etag, modified));
            free(key);
            free(size);
            free(etag);
            free(modified);
            free(contents);
            if (rc < 0)
                goto out;
        }
        at = resp.data;
        char *cp;
        while ((cp = s3_xml_text(resp.data, "CommonPrefixes", &at)) != NULL) {
            char *p = s3_xml_text(cp, "Prefix", NULL);
            size_t n = p ? strlen(p) : 0;
            if (p && n > fl + 1 && strncmp(p, folder, fl) == 0)
                rc = frame_add(f, p + fl, n - fl - 1, 1, 0, 0);
            free(p);
            free(cp);
            if (rc < 0)
                goto out;
        }
        char *truncated = s3_xml_text(resp.data, "IsTruncated", NULL);
        if (truncated && strcmp(truncated, "true") == 0)
            token = s3_xml_text(resp.data, "NextContinuationToken", NULL);
        free(truncated);
    } while (token);
    if (f->n > 1)
        qsort(f->e, f->n, sizeof *f->e, cmp_entries);
    rc = 0;
out:
    buf_free(&resp);
    return rc;
}

static int all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return n > 0;
}

enum { KEEP, SKIP_DIGEST, SKIP_INSIGHT, SKIP_OTHER };

/*
 * Where path (a folder when is_dir) sits in the AWSLogs layout: only an
 * account's CloudTrail/ folder holds logs (walk.c does the same for a
 * mirror). Counts the same things as walk_counts' skipped_* fields.
 */
static int layout_verdict(const char *path, int is_dir)
{
    const char *a = NULL;
    for (const char *p = path; (p = strstr(p, "AWSLogs/")) != NULL; p += 8)
        if (p == path || p[-1] == '/')
            a = p + 8;
    if (!a)
        return KEEP;
    const char *comp[3];
    size_t len[3];
    int n = 0;
    for (const char *p = a; *p && n < 3;) {
        size_t l = strcspn(p, "/");
        comp[n] = p;
        len[n++] = l;
        p += l;
        if (*p == '/')
            p++;
        else
            break;
    }
    /* A component that ends the path is the file's own name. */
#define ENDS(k) (!is_dir && comp[k][len[k]] == '\0')
    int i = 0;
    if (n > 0 && len[0] > 2 && memcmp(comp[0], "o-", 2) == 0 && !ENDS(0))
        i++;
    if (i >= n)
        return KEEP;
    if (ENDS(i))
        return SKIP_OTHER;                 /* a file in AWSLogs/ or o-.../ */
    if (len[i] > 15 && memcmp(comp[i], "aws-account-id=", 15) == 0)
        return SKIP_OTHER;                 /* a Hive-style partition of another service */
    if (!all_digits(comp[i], len[i]) || ++i >= n)
        return KEEP;
    if (ENDS(i))
        return SKIP_OTHER;                 /* a file in the account folder */
#undef ENDS
    if (len[i] == 17 && memcmp(comp[i], "CloudTrail-Digest", 17) == 0)
        return SKIP_DIGEST;
    if (len[i] == 18 && memcmp(comp[i], "CloudTrail-Insight", 18) == 0)
        return SKIP_INSIGHT;
    if (len[i] == 10 && memcmp(comp[i], "CloudTrail", 10) == 0)
        return KEEP;
    return SKIP_OTHER;
}

/* The region folder ".../CloudTrail/<region>/" of a CloudTrail layout,
 * when folder is one. */
static int is_region_folder(const char *folder)
{
    size_t n = strlen(folder);
    if (n < 2)
        return 0;
    const char *end = folder + n - 1;              /* the trailing '/' */
    const char *p = end;
    while (p > folder && p[-1] != '/')
        p--;
    return p - folder >= 11 && memcmp(p - 11, "CloudTrail/", 11) == 0 && (p - 11 == folder || p[-12] == '/') &&
           strstr(folder, "AWSLogs/") != NULL;
}

/* With both --since and --until, the day folders of [since - slack,
 * until + slack) are listed directly, when there are at most this many:
 * a one-day window costs a few requests, not the year's and month's. */
#define DIRECT_DAYS_MAX 62

static void civil_from_days(int64_t z, int *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t yy = (int64_t)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yy + (*m <= 2));
}

static int direct_days(s3_lister *l, const char *folder)
{
    if (!l->opt.has_since || !l->opt.has_until || !is_region_folder(folder))
        return 0;
    int64_t lo = l->opt.since - l->opt.key_slack, hi = l->opt.until + l->opt.key_slack;
    if (hi <= lo)
        return 0;
    int64_t d0 = lo >= 0 ? lo / 86400 : -((-lo + 86399) / 86400), d1 = (hi - 1) / 86400;
    return d1 - d0 + 1 <= DIRECT_DAYS_MAX && d0 >= 0;
}

/* A frame of the day folders "YYYY/MM/DD" of the window, as if listed. */
static int push_days(s3_lister *l, char *folder)
{
    int rc = push_frame(l, folder);
    if (rc < 0)
        return rc;
    list_frame *f = &l->stack[l->depth - 1];
    int64_t lo = l->opt.since - l->opt.key_slack, hi = l->opt.until + l->opt.key_slack;
    for (int64_t d = lo / 86400; d <= (hi - 1) / 86400; d++) {
        int y, m, dd;
        civil_from_days(d, &y, &m, &dd);
        char name[16];
        int n = snprintf(name, sizeof name, "%04d/%02d/%02d", y, m, dd);
        rc = frame_add(f, name, (size_t)n, 1, 0, 0);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static char *join(const char *a, const char *b, const char *c)
{
    size_t n = strlen(a) + strlen(b) + strlen(c) + 1;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s%s%s", a, b, c);
    return p;
}

int s3_lister_next(s3_lister *l, const char **key, uint64_t *size, char *err, size_t errlen)
{
    if (l->failed)
        return WALK_END;
    if (!l->started) {
        l->started = 1;
        char *root = strdup(l->root);
        if (!root)
            return -ENOMEM;
        int rc = list_folder(l, root, err, errlen);
        if (rc != 0) {
            l->failed = rc == WALK_ERROR;
            return rc;
        }
    }
    while (l->depth > 0) {
        list_frame *f = &l->stack[l->depth - 1];
        if (f->next == f->n) {
            frame_release(f);
            l->depth--;
            continue;
        }
        list_entry *e = &f->e[f->next++];
        char *path = join(f->folder, e->name, "");
        if (!path)
            return -ENOMEM;
        int verdict = layout_verdict(path, e->is_dir);
        if (verdict == SKIP_DIGEST && l->opt.include_digests)
            verdict = KEEP;                /* verify reads them (pruned by account only, as walk.c) */
        if (verdict != KEEP) {
            if (verdict == SKIP_DIGEST)
                l->counts.skipped_digest++;
            else if (verdict == SKIP_INSIGHT)
                l->counts.skipped_insight++;
            else if (e->is_dir)
                l->counts.skipped_other_dirs++;
            else
                l->counts.skipped_other_files++;
            free(path);
            continue;
        }
        if (l->pruning && walk_prunes(&l->opt, path, e->is_dir)) {
            if (e->is_dir)
                l->counts.dirs_pruned++;
            else
                l->counts.files_pruned++;
            free(path);
            continue;
        }
        if (e->is_dir) {
            char *folder = join(path, "/", "");
            free(path);
            if (!folder)
                return -ENOMEM;
            int rc = direct_days(l, folder) ? push_days(l, folder) : list_folder(l, folder, err, errlen);
            if (rc != 0) {
                l->failed = rc == WALK_ERROR;
                return rc;
            }
            continue;
        }
        /* the shard of a mirror's file: by the key from AWSLogs/ on, else below the prefix listed */
        if (l->opt.shard_count > 1 &&
            walk_shard_of(walk_shard_key(path, path + strlen(l->root)), l->opt.shard_count) != l->opt.shard_index) {
            l->counts.files_other_shards++;
            free(path);
            continue;
        }
        free(l->current);
        l->current = path;
        l->current_version = e->version;
        *key = path;
        if (size)
            *size = e->size;
        return WALK_INPUT;
    }
    return WALK_END;
}

/* ---- the fetcher --------------------------------------------------------- */

enum slot_state { SLOT_FREE, SLOT_RUNNING, SLOT_WAITING };

typedef struct {
    enum slot_state state;
    CURL *easy;
    struct curl_slist *headers;
    char *key;
    uint64_t seq;
    unsigned attempt;
    uint64_t delivered;           /* body bytes handed to on_data, over all attempts */
    uint64_t skip;                /* bytes to drop: a resume answered 200, from byte 0 */
    long status;                  /* this attempt's HTTP status, once known */
    int paused, aborted;
    char etag[128];
    ot_buf error_body;            /* an error answer's XML (capped) */
    int64_t retry_at;             /* SLOT_WAITING: monotonic ms */
    struct s3_fetcher *f;
} fetch_slot;

typedef struct {
    char *key;
    uint64_t seq;
} queued;

struct s3_fetcher {
    s3_client *c;
    char *bucket;
    s3_fetch_callbacks cb;
    void *ctx;
    CURLM *multi;
    fetch_slot *slots;
    unsigned nslots, busy;
    queued *queue;
    size_t qhead, qlen, qcap;
    ot_buf url;
    atomic_int woken;             /* s3_fetcher_wakeup was called: s3_fetcher_run returns */
};

s3_fetcher *s3_fetcher_create(s3_client *c, const char *bucket, unsigned concurrency, const s3_fetch_callbacks *cb,
                              void *ctx)
{
    s3_fetcher *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->c = c;
    f->cb = *cb;
    f->ctx = ctx;
    f->nslots = concurrency ? concurrency : 128;
    f->bucket = strdup(bucket);
    f->slots = calloc(f->nslots, sizeof *f->slots);
    f->multi = curl_multi_init();
    if (!f->bucket || !f->slots || !f->multi) {
        s3_fetcher_free(f);
        return NULL;
    }
    /* One connection per object in flight, kept alive between objects. */
    curl_multi_setopt(f->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)f->nslots);
    curl_multi_setopt(f->multi, CURLMOPT_MAXCONNECTS, (long)f->nslots);
    return f;
}

static void slot_reset(fetch_slot *s)
{
    curl_slist_free_all(s->headers);
    s->headers = NULL;
    free(s->key);
    s->key = NULL;
    buf_free(&s->error_body);
    s->state = SLOT_FREE;
    s->attempt = 0;
    s->delivered = s->skip = 0;
    s->status = 0;
    s->paused = s->aborted = 0;
    s->etag[0] = '\0';
}

void s3_fetcher_free(s3_fetcher *f)
{
    if (!f)
        return;
    for (unsigned i = 0; f->slots && i < f->nslots; i++) {
        fetch_slot *s = &f->slots[i];
        if (s->easy) {
            if (s->state == SLOT_RUNNING)
                curl_multi_remove_handle(f->multi, s->easy);
            curl_easy_cleanup(s->easy);
        }
        slot_reset(s);
    }
    for (size_t i = 0; i < f->qlen; i++)
        free(f->queue[(f->qhead + i) % f->qcap].key);
    free(f->queue);
    free(f->slots);
    if (f->multi)
        curl_multi_cleanup(f->multi);
    free(f->bucket);
    buf_free(&f->url);
    free(f);
}

int s3_fetcher_add(s3_fetcher *f, const char *key, uint64_t seq)
{
    if (f->qlen == f->qcap) {
        size_t cap = f->qcap ? f->qcap * 2 : 64;
        queued *q = malloc(cap * sizeof *q);
        if (!q)
            return -ENOMEM;
        for (size_t i = 0; i < f->qlen; i++)
            q[i] = f->queue[(f->qhead + i) % f->qcap];
        free(f->queue);
        f->queue = q;
        f->qcap = cap;
        f->qhead = 0;
    }
    char *k = strdup(key);
    if (!k)
        return -ENOMEM;
    f->queue[(f->qhead + f->qlen++) % f->qcap] = (queued){ k, seq };
    return 0;
}

size_t s3_fetcher_pending(const s3_fetcher *f)
{
    return f->qlen + f->busy;
}

int s3_fetcher_resume(s3_fetcher *f, uint64_t seq)
{
    for (unsigned i = 0; i < f->nslots; i++) {
        fetch_slot *s = &f->slots[i];
        if (s->state == SLOT_RUNNING && s->seq == seq && s->paused) {
            s->paused = 0;
            curl_easy_pause(s->easy, CURLPAUSE_CONT);
            return 0;
        }
    }
    return -ENOENT;
}

/* An x-amz-meta-* header line, to the caller's on_meta. */
static void say_meta(fetch_slot *s, const char *data, size_t len)
{
    static const char prefix[] = "x-amz-meta-";
    size_t pl = sizeof prefix - 1;
    const char *colon = len > pl ? memchr(data, ':', len) : NULL;
    if (!s->f->cb.on_meta || !colon || strncasecmp(data, prefix, pl) != 0)
        return;
    char name[128], value[2048];
    size_t nl = (size_t)(colon - data) - pl, vl;
    const char *v = colon + 1;
    vl = len - (size_t)(v - data);
    while (vl > 0 && (*v == ' ' || *v == '\t'))
        v++, vl--;
    while (vl > 0 && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
        vl--;
    if (nl >= sizeof name || vl >= sizeof value)
        return;
    for (size_t i = 0; i < nl; i++)
        name[i] = (char)tolower((unsigned char)data[pl + i]);
    name[nl] = '\0';
    memcpy(value, v, vl);
    value[vl] = '\0';
    s->f->cb.on_meta(s->f->ctx, s->seq, name, value);
}

static size_t on_header(char *data, size_t size, size_t n, void *userdata)
{
    fetch_slot *s = userdata;
    size_t len = size * n;
    say_meta(s, data, len);
    if (len > 5 && strncasecmp(data, "ETag:", 5) == 0) {
        const char *v = data + 5;
        size_t vl = len - 5;
        while (vl > 0 && (*v == ' ' || *v == '\t'))
            v++, vl--;
        while (vl > 0 && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
            vl--;
        if (!s->etag[0] && vl < sizeof s->etag) {  /* the first answer's: a resume must match it */
            memcpy(s->etag, v, vl);
            s->etag[vl] = '\0';
        }
    }
    return len;
}

static size_t on_body(char *data, size_t size, size_t n, void *userdata)
{
    fetch_slot *s = userdata;
    size_t len = size * n;
    if (!s->status) {
        curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &s->status);
        /* A resume that got the whole body again: drop what was handed out. */
        if (s->status == 200 && s->delivered > 0)
            s->skip = s->delivered;
    }
    if (s->status != 200 && s->status != 206) {
        if (s->error_body.len < 4096)
            buf_append(&s->error_body, data, len);
        return len;
    }
    size_t drop = s->skip < len ? (size_t)s->skip : len;
    if (drop == len) {
        s->skip -= drop;
        return len;
    }
    int r = s->f->cb.on_data(s->f->ctx, s->seq, data + drop, len - drop);
    if (r == S3_FETCH_PAUSE) {
        s->paused = 1;
        return CURL_WRITEFUNC_PAUSE;
    }
    if (r < 0) {
        s->aborted = 1;
        return 0;
    }
    s->skip -= drop;
    s->delivered += len - drop;
    s->f->c->counts.s3_bytes += len - drop;
    return len;
}

/* Starts (or restarts, resuming at s->delivered) slot s's request.
 * Returns 0, or a negative errno with the object finished as failed. */
static int slot_start(s3_fetcher *f, fetch_slot *s)
{
    char err[512] = "";
    char range[64], ifmatch[160];
    s3_header extra[2];
    size_t nextra = 0;
    if (s->delivered > 0) {
        snprintf(range, sizeof range, "bytes=%llu-", (unsigned long long)s->delivered);
        extra[nextra++] = (s3_header){ "range", range };
        if (s->etag[0]) {
            snprintf(ifmatch, sizeof ifmatch, "%s", s->etag);
            extra[nextra++] = (s3_header){ "if-match", ifmatch };
        }
        f->c->counts.s3_resumes++;
    }
    curl_slist_free_all(s->headers);
    s->headers = NULL;
    int rc = build_request(f->c, "GET", f->bucket, s->key, NULL, extra, nextra, &f->url, &s->headers, err, sizeof err);
    if (rc < 0) {
        f->cb.on_done(f->ctx, s->seq, rc, err);
        slot_reset(s);
        f->busy--;
        return rc;
    }
    if (!s->easy) {
        s->easy = curl_easy_init();
        if (!s->easy) {
            f->cb.on_done(f->ctx, s->seq, -ENOMEM, "out of memory");
            slot_reset(s);
            f->busy--;
            return -ENOMEM;
        }
    }
    CURL *e = s->easy;
    curl_easy_reset(e);
    curl_easy_setopt(e, CURLOPT_URL, f->url.data);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, s->headers);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, s);
    curl_easy_setopt(e, CURLOPT_PRIVATE, s);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, (f->c->policy.timeout_ms + 999) / 1000);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, f->c->policy.timeout_ms);
    s->status = 0;
    s->skip = 0;
    s->error_body.len = 0;
    s->attempt++;
    s->state = SLOT_RUNNING;
    f->c->counts.s3_get_requests++;
    CURLMcode mc = curl_multi_add_handle(f->multi, e);
    return mc == CURLM_OK ? 0 : -EIO;
}

static void slot_finish(s3_fetcher *f, fetch_slot *s, int status, const char *err)
{
    f->cb.on_done(f->ctx, s->seq, status, err);
    slot_reset(s);
    f->busy--;
}

static void slot_done(s3_fetcher *f, fetch_slot *s, CURLcode cc)
{
    curl_multi_remove_handle(f->multi, s->easy);
    long status = 0;
    curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
    char err[1024];
    if (s->aborted) {
        snprintf(err, sizeof err, "s3://%s/%s: aborted by the reader", f->bucket, s->key);
        slot_finish(f, s, -ECANCELED, err);
        return;
    }
    if (cc == CURLE_OK && (status == 200 || status == 206)) {
        slot_finish(f, s, 0, NULL);
        return;
    }
    char *code = NULL;
    if (cc == CURLE_OK && s3_buf_terminate(&s->error_body) == 0)
        code = s3_xml_text(s->error_body.data, "Code", NULL);
    int again = cc == CURLE_OK ? retryable_status(status, code) : retryable_curl(cc);
    if (again && s->attempt < f->c->policy.max_attempts) {
        free(code);
        f->c->counts.s3_retries++;
        s->state = SLOT_WAITING;
        s->retry_at = now_ms() + backoff_ms(f->c, s->attempt);
        return;
    }
    int rc = status == 404 ? -ENOENT : status == 403 ? -EACCES : -EIO;
    if (cc == CURLE_OK)
        snprintf(err, sizeof err, "s3://%s/%s: HTTP %ld %s%s", f->bucket, s->key, status,
                 code ? code : "(no S3 error code)", again ? " (retries exhausted)" : "");
    else
        snprintf(err, sizeof err, "s3://%s/%s: %s at byte %llu%s", f->bucket, s->key, curl_easy_strerror(cc),
                 (unsigned long long)s->delivered, again ? " (retries exhausted)" : "");
    free(code);
    slot_finish(f, s, rc, err);
}

int s3_fetcher_run(s3_fetcher *f, int timeout_ms)
{
    int64_t deadline = now_ms() + timeout_ms;
    for (;;) {
        int64_t now = now_ms(), next_retry = INT64_MAX;
        for (unsigned i = 0; i < f->nslots; i++) {
            fetch_slot *s = &f->slots[i];
            if (s->state == SLOT_WAITING && s->retry_at <= now) {
                if (slot_start(f, s) == -EIO)
                    return -EIO;
            } else if (s->state == SLOT_WAITING && s->retry_at < next_retry) {
                next_retry = s->retry_at;
            }
            if (s->state == SLOT_FREE && f->qlen > 0) {
                queued q = f->queue[f->qhead];
                f->qhead = (f->qhead + 1) % f->qcap;
                f->qlen--;
                s->key = q.key;
                s->seq = q.seq;
                s->f = f;
                f->busy++;
                if (slot_start(f, s) == -EIO)
                    return -EIO;
            }
        }
        int running = 0;
        CURLMcode mc = curl_multi_perform(f->multi, &running);
        if (mc != CURLM_OK)
            return -EIO;
        CURLMsg *m;
        int left;
        while ((m = curl_multi_info_read(f->multi, &left)) != NULL) {
            if (m->msg != CURLMSG_DONE)
                continue;
            fetch_slot *s = NULL;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&s);
            slot_done(f, s, m->data.result);
        }
        now = now_ms();
        if (f->busy == 0 && f->qlen == 0)
            return 0;
        if (now >= deadline)
            return (int)s3_fetcher_pending(f);
        int64_t wait = deadline - now;
        if (next_retry != INT64_MAX && next_retry - now < wait)
            wait = next_retry - now > 0 ? next_retry - now : 0;
        int free_slot_and_queue = 0;
        for (unsigned i = 0; i < f->nslots && f->qlen > 0; i++)
            if (f->slots[i].state == SLOT_FREE)
                free_slot_and_queue = 1;
        if (free_slot_and_queue)
            wait = 0;
        mc = curl_multi_poll(f->multi, NULL, 0, (int)(wait > 1000 ? 1000 : wait), NULL);
        if (mc != CURLM_OK)
            return -EIO;
        if (atomic_exchange(&f->woken, 0))
            return (int)s3_fetcher_pending(f);
    }
}

void s3_fetcher_wakeup(s3_fetcher *f)
{
    atomic_store(&f->woken, 1);
    curl_multi_wakeup(f->multi);
}
