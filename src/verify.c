/*
 * verify: CloudTrail digest chains, checked offline.
 *
 * Three steps:
 *   1. The walk (walk.c, digests included) lists every digest and log file
 *      under the PATHs, and s3_lister every object under an s3:// PATH;
 *      each gets its S3 key (from the last AWSLogs/ on).
 *      Digests are pruned here by account, region and the end time in
 *      their name; log files by the walk, with two hours more slack, so
 *      every file a kept digest lists is still there.
 *   2. Hashing, in parallel (hashfiles.c): the SHA-256 of every file's
 *      uncompressed text, and the text of each digest; s3:// objects are
 *      fetched (s3_fetcher) with their x-amz-meta-signature, which is the
 *      signature of a chain's newest digest.
 *   3. The chains, on the calling thread: digests are parsed, linked by
 *      previousDigestS3Object, their signatures and hashes checked, and
 *      every listed log compared with its file. Findings are sorted before
 *      they are written, so the output is the same for any -j.
 */
#define _GNU_SOURCE   /* asprintf, vasprintf */
#include "verify.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "digest.h"
#include "hashfiles.h"
#include "parse.h"
#include "s3_client.h"
#include "util.h"

#define LOG_SLACK_EXTRA 7200      /* seconds: a digest lists logs of the hour before its end */
#define DIGEST_HOUR 3600

/* One file of the archive. */
typedef struct {
    hash_item h;                  /* path as walked; what the hashing found */
    const char *key;              /* from the last AWSLogs/ on, into h.path (or h.path itself) */
    int is_digest;
    int next_only;                /* a digest after the window: read for its previousDigest fields only */
    int listed;                   /* a checked digest lists it (2: and it was counted invalid) */
    size_t digest;                /* a digest's index in checker.digests */
} vfile;

/* ---- keys ---------------------------------------------------------------- */

static const char *key_of(const char *path)
{
    const char *found = NULL;
    for (const char *p = path; (p = strstr(p, "AWSLogs/")) != NULL; p += 8)
        if (p == path || p[-1] == '/')
            found = p;
    return found ? found : path;
}

/* The folders of a key after AWSLogs/[o-id/]: account, service folder,
 * region. Returns 0 when the key is not in the layout. */
static int key_folders(const char *key, ot_slice *account, ot_slice *service, ot_slice *region)
{
    if (strncmp(key, "AWSLogs/", 8) != 0)
        return 0;
    const char *p = key + 8;
    ot_slice part[4];
    int n = 0;
    while (n < 4) {
        const char *slash = strchr(p, '/');
        if (!slash)
            break;
        part[n++] = (ot_slice){ p, (size_t)(slash - p) };
        p = slash + 1;
    }
    int i = n > 0 && part[0].len > 2 && memcmp(part[0].ptr, "o-", 2) == 0 ? 1 : 0;
    if (n < i + 3)
        return 0;
    *account = part[i];
    *service = part[i + 1];
    *region = part[i + 2];
    return 1;
}

static int slice_is(ot_slice s, const char *word)
{
    return s.len == strlen(word) && memcmp(s.ptr, word, s.len) == 0;
}

static int in_list(const char *const *list, size_t n, ot_slice s)
{
    for (size_t i = 0; i < n; i++)
        if (slice_is(s, list[i]))
            return 1;
    return 0;
}

static int digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

static int num(const char *s, size_t n)
{
    int v = 0;
    for (size_t i = 0; i < n; i++)
        v = v * 10 + (s[i] - '0');
    return v;
}

/* The time in a file name: a digest's ..._YYYYMMDDTHHMMSSZ.json.gz, a
 * log's ..._YYYYMMDDTHHMMZ_xxxx.json.gz. -1 when there is none. */
static int64_t name_time(const char *key, int digest)
{
    const char *name = strrchr(key, '/');
    name = name ? name + 1 : key;
    const char *tag = strstr(name, digest ? "_CloudTrail-Digest_" : "_CloudTrail_");
    if (!tag)
        return -1;
    size_t clock = digest ? 6 : 4;     /* HHMMSS or HHMM */
    for (const char *p = strchr(tag + 1, '_'); p; p = strchr(p + 1, '_')) {
        const char *t = p + 1;
        if (strlen(t) < 10 + clock || !digits(t, 8) || t[8] != 'T' || !digits(t + 9, clock) || t[9 + clock] != 'Z')
            continue;
        int mo = num(t + 4, 2), d = num(t + 6, 2);
        if (mo < 1 || mo > 12 || d < 1 || d > 31)
            return -1;
        int64_t s = days_from_civil(num(t, 4), (unsigned)mo, (unsigned)d) * 86400;
        s += num(t + 9, 2) * 3600 + num(t + 11, 2) * 60;
        return digest ? s + num(t + 13, 2) : s;
    }
    return -1;
}

enum { DIGEST_KEPT, DIGEST_PRUNED, DIGEST_NEXT_ONLY };

/* Whether --accounts, --regions or --since/--until leave out the digest at
 * key: DIGEST_PRUNED, or DIGEST_NEXT_ONLY for the hour after --until, read
 * only for the signature and hash it holds of the digest before it, so the
 * window's newest digest is verified too. */
static int digest_pruned(const walk_options *w, const char *key)
{
    ot_slice account, service, region;
    if (!key_folders(key, &account, &service, &region))
        return 0;
    if (w->accounts && !in_list(w->accounts, w->naccounts, account))
        return 1;
    if (w->regions && !in_list(w->regions, w->nregions, region))
        return 1;
    int64_t end = name_time(key, 1);
    if (end < 0)
        return 0;
    /* a digest covers about the hour before its end */
    if (w->has_since && end <= w->since - w->key_slack)
        return 1;
    if (w->has_until && end - DIGEST_HOUR >= w->until + w->key_slack)
        return end - 2 * DIGEST_HOUR >= w->until + w->key_slack ? DIGEST_PRUNED : DIGEST_NEXT_ONLY;
    return DIGEST_KEPT;
}

/* ---- inputs -------------------------------------------------------------- */

static int read_whole(const char *path, ot_buf *b)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = 0;
    for (;;) {
        rc = buf_reserve(b, 64u << 10);
        if (rc)
            break;
        ssize_t got = read(fd, b->data + b->len, b->cap - b->len);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            rc = -errno;
            break;
        }
        if (got == 0)
            break;
        b->len += (size_t)got;
    }
    close(fd);
    return rc;
}

typedef struct {
    char *key, *signature;
} known_signature;

static int cmp_signature(const void *a, const void *b)
{
    return strcmp(((const known_signature *)a)->key, ((const known_signature *)b)->key);
}

/* --signatures: NDJSON {"key": digest key, "signature": hex}. A bad line
 * is reported (path and byte offset) and counted in *errors. */
static int load_signatures(parse_ctx *ctx, const char *path, known_signature **out, size_t *n, uint64_t *errors,
                           FILE *err)
{
    ot_buf b = { 0 };
    size_t cap = 0;
    int rc = read_whole(path, &b);
    if (rc) {
        ot_say(err, "orgtrail: %s: cannot read: %s\n", path, strerror(-rc));
        (*errors)++;
        rc = 0;
        goto out;
    }
    for (size_t at = 0; at < b.len;) {
        char *nl = memchr(b.data + at, '\n', b.len - at);
        size_t len = nl ? (size_t)(nl - (b.data + at)) : b.len - at;
        const char *line = b.data + at;
        size_t line_at = at;
        at += len + (nl ? 1 : 0);
        size_t sp = 0;
        while (sp < len && (line[sp] == ' ' || line[sp] == '\t' || line[sp] == '\r'))
            sp++;
        if (sp == len)
            continue;
        char why[200];
        size_t off = 0;
        ot_slice key, sig;
        if (parse_record(ctx, line, len, PARSE_KIND_EVENT, why, sizeof why, &off) != 0) {
            ot_say(err, "orgtrail: %s: byte %zu: %s\n", path, line_at + off, why);
            (*errors)++;
            continue;
        }
        if (parse_get(ctx, "key", &key) != PARSE_STRING || parse_get(ctx, "signature", &sig) != PARSE_STRING) {
            ot_say(err, "orgtrail: %s: byte %zu: want {\"key\": ..., \"signature\": ...}\n", path, line_at);
            (*errors)++;
            continue;
        }
        if (ot_grow(out, &cap, *n, sizeof **out, 16)) {
            rc = -ENOMEM;
            goto out;
        }
        known_signature *s = &(*out)[*n];
        s->key = strndup(key.ptr, key.len);
        s->signature = strndup(sig.ptr, sig.len);
        if (!s->key || !s->signature) {
            free(s->key);
            free(s->signature);
            rc = -ENOMEM;
            goto out;
        }
        (*n)++;
    }
    if (*n > 1)
        qsort(*out, *n, sizeof **out, cmp_signature);
out:
    buf_free(&b);
    return rc;
}

static const char *signature_of(const known_signature *list, size_t n, const char *key)
{
    known_signature want = { .key = (char *)key };
    const known_signature *s = n ? bsearch(&want, list, n, sizeof *list, cmp_signature) : NULL;
    return s ? s->signature : NULL;
}

static digest_keys *load_keys(parse_ctx *ctx, const char *path, uint64_t *errors, FILE *err)
{
    ot_buf b = { 0 };
    digest_keys *k = NULL;
    int rc = read_whole(path, &b);
    if (rc) {
        ot_say(err, "orgtrail: %s: cannot read: %s\n", path, strerror(-rc));
    } else {
        char why[200];
        size_t off;
        k = digest_keys_load(ctx, b.data, b.len, why, sizeof why, &off);
        if (!k)
            ot_say(err, "orgtrail: %s: byte %zu: %s\n", path, off, why);
    }
    if (!k)
        (*errors)++;
    buf_free(&b);
    return k;
}

static int cmp_file(const void *a, const void *b)
{
    const vfile *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    return c ? c : strcmp(x->h.path, y->h.path);
}

static int cmp_key(const void *k, const void *f)
{
    return strcmp(k, ((const vfile *)f)->key);
}

/* The first file with key, or NULL. files are sorted by key. */
static vfile *file_by_key(vfile *files, size_t n, const char *key)
{
    vfile *f = n ? bsearch(key, files, n, sizeof *files, cmp_key) : NULL;
    while (f && f > files && strcmp(f[-1].key, key) == 0)
        f--;
    return f;
}

/* Adds path (copied) to *files unless it is a digest pruned by the window.
 * Returns 0 or -ENOMEM. */
static int add_file(const verify_options *opt, vfile **files, size_t *n, size_t *cap, const char *path)
{
    const char *key = key_of(path);
    ot_slice account, service, region;
    int in_layout = key_folders(key, &account, &service, &region);
    int is_digest = in_layout && slice_is(service, "CloudTrail-Digest");
    int pruned = is_digest ? digest_pruned(&opt->walk, key) : DIGEST_KEPT;
    if (pruned == DIGEST_PRUNED)
        return 0;
    if (ot_grow(files, cap, *n, sizeof **files, 256))
        return -ENOMEM;
    vfile *f = &(*files)[*n];
    memset(f, 0, sizeof *f);
    f->h.path = strdup(path);
    if (!f->h.path)
        return -ENOMEM;
    f->key = key_of(f->h.path);
    f->is_digest = is_digest;
    f->next_only = pruned == DIGEST_NEXT_ONLY;
    f->h.keep_text = is_digest;
    (*n)++;
    return 0;
}

/* Lists s3://bucket/prefix (digests included) into *files. A listing that
 * fails is said and counted. Returns 0 or -errno. */
static int list_s3(const verify_options *opt, s3_client *s3, const walk_options *wo, const char *url, vfile **files,
                   size_t *n, size_t *cap, uint64_t *errors, FILE *err)
{
    char *bucket = NULL, *prefix = NULL, why[1024];
    int rc = s3_url_parse(url, &bucket, &prefix);
    if (rc == -EINVAL) {
        ot_say(err, "orgtrail: %s: not an s3://bucket[/prefix] URL\n", url);
        (*errors)++;
        return 0;
    }
    if (rc)
        return rc;
    s3_lister *l = s3_lister_create(s3, bucket, prefix, wo);
    ot_buf path = { 0 };
    if (!l)
        rc = -ENOMEM;
    while (rc == 0) {
        const char *key;
        int st = s3_lister_next(l, &key, NULL, why, sizeof why);
        if (st < 0) {
            rc = st;
        } else if (st == WALK_ERROR) {
            ot_say(err, "orgtrail: %s\n", why);
            (*errors)++;
        } else if (st == WALK_INPUT) {
            path.len = 0;
            rc = buf_printf(&path, "s3://%s/%s%c", bucket, key, '\0');   /* an ot_buf is not a string */
            if (!rc)
                rc = add_file(opt, files, n, cap, path.data);
            continue;
        }
        break;
    }
    buf_free(&path);
    s3_lister_free(l);
    free(bucket);
    free(prefix);
    return rc;
}

/* Walks the PATHs into *files (sorted by key). Walk errors are reported
 * and counted. s3:// PATHs are listed through s3. Returns 0 or -errno. */
static int list_files(const verify_options *opt, s3_client *s3, vfile **files, size_t *n, uint64_t *errors,
                      FILE *err)
{
    walk_options wo = opt->walk;
    wo.include_digests = 1;
    /* logs a kept digest lists lie in the hour before its end */
    if (wo.has_since)
        wo.since -= LOG_SLACK_EXTRA;
    if (wo.has_until)
        wo.until += LOG_SLACK_EXTRA;
    walker *w = walk_create(opt->paths, opt->npaths, &wo);
    if (!w)
        return -ENOMEM;
    size_t cap = 0;
    int rc = 0;
    for (;;) {
        const char *path;
        char why[256];
        int st = walk_next(w, &path, why, sizeof why);
        if (st < 0) {
            rc = st;
            break;
        }
        if (st == WALK_END)
            break;
        if (st == WALK_ERROR) {
            ot_say(err, "orgtrail: %s: %s\n", path, why);
            (*errors)++;
            continue;
        }
        if (!path)
            continue;                /* stdin: nothing to verify against */
        if (strncmp(path, "s3://", 5) == 0 && !walk_is_object(w))
            rc = list_s3(opt, s3, &wo, path, files, n, &cap, errors, err);
        else
            rc = add_file(opt, files, n, &cap, path);
        if (rc)
            break;
    }
    walk_free(w);
    if (*n > 1)
        qsort(*files, *n, sizeof **files, cmp_file);
    return rc;
}

/* ---- the chains ---------------------------------------------------------- */

enum kind { LOG_MODIFIED, LOG_MISSING, LOG_UNLISTED, DIGEST_MISSING, DIGEST_INVALID, DELIVERY_GAP };

static const struct {
    const char *name, *severity, *title;
} kinds[] = {
    [LOG_MODIFIED] = { "log_modified", "high", "Log file differs from the hash its digest lists" },
    [LOG_MISSING] = { "log_missing", "high", "Log file listed by a digest is not in the archive" },
    [LOG_UNLISTED] = { "log_unlisted", "medium", "Log file in the archive is listed by no digest" },
    [DIGEST_MISSING] = { "digest_missing", "high", "Digest named by the next digest is not in the archive" },
    [DIGEST_INVALID] = { "digest_invalid", "high", "Digest does not verify" },
    [DELIVERY_GAP] = { "delivery_gap", "medium", "Time gap between consecutive digests of a chain" },
};

typedef struct {
    enum kind kind;
    const char *key, *digest;     /* borrowed from the files or digests */
    char *extra;                  /* more "integrity" members: ,"a":...; owned */
} finding;

typedef struct {
    vfile *f;
    digest_info info;
    int parsed;
    char *chain;                  /* bucket, folder and name less its time: one chain's digests share it */
    size_t next;                  /* index of the digest naming this one as previous, or SIZE_MAX */
    const char *invalid;          /* why it is invalid, or NULL */
    int unverified;
    int newest;                   /* the newest of its chain in the archive */
} vdigest;

typedef struct {
    const verify_options *opt;
    vfile *files;
    size_t nfiles;
    vdigest *digests;
    size_t ndigests;
    finding *found;
    size_t nfound, capfound;
    /* windows of missing digests [start, end), per region folder prefix */
    struct missing_window {
        char *region;             /* "AWSLogs/[o-id/]account/" "region" */
        int64_t start, end;
    } *missing;
    size_t nmissing, capmissing;
    int oom;
} checker;

static char *fmt_time(int64_t t, char *buf, size_t len)
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

/* Adds a finding; extra is a printf format for more members. */
static void add(checker *c, enum kind k, const char *key, const char *digest, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void add(checker *c, enum kind k, const char *key, const char *digest, const char *fmt, ...)
{
    if (c->nfound == c->capfound) {
        size_t cap = c->capfound ? c->capfound * 2 : 32;
        finding *g = realloc(c->found, cap * sizeof *g);
        if (!g) {
            c->oom = 1;
            return;
        }
        c->found = g;
        c->capfound = cap;
    }
    char *extra = NULL;
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        if (vasprintf(&extra, fmt, ap) < 0)
            extra = NULL;
        va_end(ap);
        if (!extra) {
            c->oom = 1;
            return;
        }
    }
    c->found[c->nfound++] = (finding){ .kind = k, .key = key, .digest = digest, .extra = extra };
}

/* A JSON string value (or null) as a NUL-terminated text the caller frees. */
static char *json_str(checker *c, const char *s)
{
    ot_buf b = { 0 };
    if ((s ? buf_append_json_string(&b, s, strlen(s)) : buf_append_str(&b, "null")) ||
        buf_append(&b, "", 1)) {
        buf_free(&b);
        c->oom = 1;
        return NULL;
    }
    return b.data;
}

/* The region folder of a key, "AWSLogs/[o-id/]account/region", as a
 * comparable text in buf (the service folder left out). 0 when the key is
 * not in the layout. */
static int region_of(const char *key, char *buf, size_t len)
{
    ot_slice account, service, region;
    if (!key_folders(key, &account, &service, &region))
        return 0;
    size_t prefix = (size_t)(account.ptr + account.len - key);
    int n = snprintf(buf, len, "%.*s/%.*s", (int)prefix, key, (int)region.len, region.ptr);
    return n > 0 && (size_t)n < len;
}

static int cmp_chain(const void *a, const void *b)
{
    const vdigest *x = *(vdigest *const *)a, *y = *(vdigest *const *)b;
    int c = strcmp(x->chain, y->chain);
    if (c)
        return c;
    return x->info.end < y->info.end ? -1 : x->info.end > y->info.end ? 1 : strcmp(x->f->key, y->f->key);
}

/* The digest at key (an S3 object name, a bucket prefix allowed), or NULL. */
static vdigest *digest_by_key(checker *c, const char *key)
{
    vfile *f = key ? file_by_key(c->files, c->nfiles, key_of(key)) : NULL;
    return f && f->is_digest ? &c->digests[f->digest] : NULL;
}

static void note_missing_window(checker *c, const char *key, int64_t start, int64_t end)
{
    char region[160];
    if (!region_of(key, region, sizeof region))
        return;
    if (c->nmissing == c->capmissing) {
        size_t cap = c->capmissing ? c->capmissing * 2 : 8;
        struct missing_window *g = realloc(c->missing, cap * sizeof *g);
        if (!g) {
            c->oom = 1;
            return;
        }
        c->missing = g;
        c->capmissing = cap;
    }
    char *r = strdup(region);
    if (!r) {
        c->oom = 1;
        return;
    }
    c->missing[c->nmissing++] = (struct missing_window){ .region = r, .start = start, .end = end };
}

/* Links, hashes and gaps of one chain, ordered by end time. */
static void check_chain(checker *c, vdigest **chain, size_t n)
{
    char t1[32], t2[32];
    chain[n - 1]->newest = 1;
    for (size_t i = 0; i < n; i++) {
        vdigest *b = chain[i], *a = i > 0 ? chain[i - 1] : NULL;
        const char *prev = b->info.prev_object;
        vdigest *p = digest_by_key(c, prev);
        int missing = prev && !p && !digest_pruned(&c->opt->walk, prev);
        if (missing) {
            /* the missing digest covered the time from the one before it */
            int64_t start = a ? a->info.end : b->info.start - DIGEST_HOUR;
            char *after = json_str(c, a ? a->f->key : NULL);
            add(c, DIGEST_MISSING, key_of(prev), b->f->key, ",\"previous_present\":%s,\"window_start\":\"%s\","
                "\"window_end\":\"%s\"", after ? after : "null", fmt_time(start, t1, sizeof t1),
                fmt_time(b->info.start, t2, sizeof t2));
            free(after);
            note_missing_window(c, prev, start, b->info.start);
        }
        if (a && b->info.start != a->info.end && !missing)
            add(c, DELIVERY_GAP, b->f->key, a->f->key, ",\"gap_start\":\"%s\",\"gap_end\":\"%s\",\"seconds\":%lld",
                fmt_time(a->info.end, t1, sizeof t1), fmt_time(b->info.start, t2, sizeof t2),
                (long long)(b->info.start - a->info.end));
    }
}

/* The signature of d, from the next digest or --signatures, and whether
 * it and the next digest's previousDigestHashValue verify. */
static void check_digest(checker *c, vdigest *d, const digest_keys *keys, const known_signature *sigs,
                         size_t nsigs)
{
    vdigest *next = d->next != SIZE_MAX ? &c->digests[d->next] : NULL;
    if (strcmp(key_of(d->info.s3_object), d->f->key) != 0) {
        d->invalid = "its digestS3Object names another key";
        return;
    }
    if (next && (!next->info.prev_hash || strcmp(next->info.prev_hash, d->f->h.sha256) != 0)) {
        d->invalid = "the next digest's previousDigestHashValue differs from its SHA-256";
        return;
    }
    /* the newest digest's is in its object's metadata: read with it from S3, else --signatures */
    const char *sig = next ? next->info.prev_signature
                    : d->f->h.signature ? d->f->h.signature : signature_of(sigs, nsigs, d->f->key);
    if (!sig || !keys) {
        d->unverified = 1;
        return;
    }
    ot_buf msg = { 0 };
    if (digest_signing_string(&d->info, d->f->h.sha256, &msg)) {
        c->oom = 1;
        return;
    }
    int v = digest_keys_verify(keys, d->info.fingerprint, msg.data, msg.len, sig);
    buf_free(&msg);
    if (v < 0)
        c->oom = 1;
    else if (v == DIGEST_KEY_UNKNOWN)
        d->invalid = "no public key has its digestPublicKeyFingerprint";
    else if (v == DIGEST_SIGNATURE_BAD)
        d->invalid = next ? "its signature (the next digest's previousDigestSignature) does not verify"
                          : "its signature (from --signatures) does not verify";
}

/* Every log file d lists, against the archive. */
static void check_logs(checker *c, vdigest *d)
{
    for (size_t i = 0; i < d->info.nlogs; i++) {
        const digest_log *l = &d->info.logs[i];
        vfile *f = file_by_key(c->files, c->nfiles, key_of(l->s3_object));
        char *oldest = json_str(c, l->oldest_event_time), *newest = json_str(c, l->newest_event_time);
        char *expect = json_str(c, l->hash_value);
        if (!oldest || !newest || !expect)
            goto next;
        if (!f || f->is_digest) {
            char t1[32], t2[32];
            add(c, LOG_MISSING, key_of(l->s3_object), d->f->key, ",\"digest_start\":\"%s\",\"digest_end\":\"%s\","
                "\"oldest_event_time\":%s,\"newest_event_time\":%s", fmt_time(d->info.start, t1, sizeof t1),
                fmt_time(d->info.end, t2, sizeof t2), oldest, newest);
        } else {
            f->listed = 1;
            /* a file that cannot be decoded has no hash to compare: null */
            int unreadable = f->h.read_error || f->h.decode_error[0];
            int bad = unreadable || strcmp(f->h.sha256, l->hash_value) != 0;
            if (bad)
                add(c, LOG_MODIFIED, f->key, d->f->key, ",\"expected_sha256\":%s,\"actual_sha256\":%s%s%s,"
                    "\"oldest_event_time\":%s,\"newest_event_time\":%s", expect, unreadable ? "" : "\"",
                    unreadable ? "null" : f->h.sha256, unreadable ? "" : "\"", oldest, newest);
        }
next:
        free(oldest);
        free(newest);
        free(expect);
    }
}

typedef struct {
    char region[160];             /* region_of's text */
    int64_t start, end;           /* the union of its digests' windows */
} region_window;

static int cmp_region(const void *a, const void *b)
{
    return strcmp(((const region_window *)a)->region, ((const region_window *)b)->region);
}

/* Log files no checked digest lists, inside the checked window of their
 * region folder (first digest's start to last digest's end) and outside
 * any missing digest's window. */
static void check_unlisted(checker *c)
{
    region_window *w = c->ndigests ? calloc(c->ndigests, sizeof *w) : NULL;
    size_t nw = 0;
    if (c->ndigests && !w) {
        c->oom = 1;
        return;
    }
    for (size_t k = 0; k < c->ndigests; k++) {
        vdigest *d = &c->digests[k];
        if (d->parsed && !d->f->next_only && region_of(d->f->key, w[nw].region, sizeof w[nw].region)) {
            w[nw].start = d->info.start;
            w[nw++].end = d->info.end;
        }
    }
    if (nw > 1)
        qsort(w, nw, sizeof *w, cmp_region);
    size_t merged = 0;
    for (size_t k = 0; k < nw; k++) {
        if (merged && strcmp(w[merged - 1].region, w[k].region) == 0) {
            if (w[k].start < w[merged - 1].start)
                w[merged - 1].start = w[k].start;
            if (w[k].end > w[merged - 1].end)
                w[merged - 1].end = w[k].end;
        } else {
            w[merged++] = w[k];
        }
    }
    region_window want;
    char t[32];
    for (size_t i = 0; i < c->nfiles; i++) {
        vfile *f = &c->files[i];
        ot_slice account, service, reg;
        if (f->is_digest || f->listed || !key_folders(f->key, &account, &service, &reg) ||
            !slice_is(service, "CloudTrail") || !region_of(f->key, want.region, sizeof want.region))
            continue;
        int64_t when = name_time(f->key, 0);
        const region_window *in = merged ? bsearch(&want, w, merged, sizeof *w, cmp_region) : NULL;
        /* a log's name has the minute it was written: a minute of slack */
        int inside = when >= 0 && in && when + 60 > in->start && when <= in->end;
        for (size_t k = 0; k < c->nmissing && inside; k++)
            if (strcmp(c->missing[k].region, want.region) == 0 && when + 60 > c->missing[k].start &&
                when <= c->missing[k].end)
                inside = 0;
        if (inside)
            add(c, LOG_UNLISTED, f->key, "", ",\"delivered\":\"%s\"", fmt_time(when, t, sizeof t));
    }
    free(w);
}

static int cmp_finding(const void *a, const void *b)
{
    const finding *x = a, *y = b;
    int r = strcmp(x->key, y->key);
    if (r)
        return r;
    if (x->kind != y->kind)
        return x->kind < y->kind ? -1 : 1;
    return strcmp(x->digest, y->digest);
}

static int write_findings(checker *c, FILE *out)
{
    ot_buf b = { 0 };
    int rc = 0;
    for (size_t i = 0; i < c->nfound && rc == 0; i++) {
        const finding *f = &c->found[i];
        b.len = 0;
        rc |= buf_printf(&b, "{\"rule\":\"integrity.%s\",\"severity\":\"%s\",\"title\":\"%s\",\"integrity\":"
                         "{\"kind\":\"%s\",\"key\":", kinds[f->kind].name, kinds[f->kind].severity,
                         kinds[f->kind].title, kinds[f->kind].name);
        rc |= buf_append_json_string(&b, f->key, strlen(f->key));
        rc |= buf_append_str(&b, ",\"digest\":");
        if (f->digest[0])
            rc |= buf_append_json_string(&b, f->digest, strlen(f->digest));
        else
            rc |= buf_append_str(&b, "null");
        rc |= buf_printf(&b, "%s}}\n", f->extra ? f->extra : "");
        if (rc == 0 && fwrite(b.data, 1, b.len, out) != b.len)
            rc = -EIO;
    }
    buf_free(&b);
    if (rc == 0 && fflush(out) != 0)
        rc = -EIO;
    return rc ? (rc == -EIO ? -EIO : -ENOMEM) : 0;
}

/* The chain a digest belongs to: its bucket, its key less the date folders
 * and the end time of its name. */
static char *chain_of(const vdigest *d)
{
    const char *key = d->f->key;
    ot_slice account, service, region;
    const char *name = strrchr(key, '/');
    name = name ? name + 1 : key;
    const char *stamp = strrchr(name, '_');
    size_t name_len = stamp ? (size_t)(stamp - name) : strlen(name);
    size_t folder = key_folders(key, &account, &service, &region) ? (size_t)(region.ptr + region.len - key) : 0;
    char *s = NULL;
    if (asprintf(&s, "%s|%.*s|%.*s", d->info.s3_bucket, (int)folder, key, (int)name_len, name) < 0)
        return NULL;
    return s;
}

static void report_file_errors(const vfile *files, size_t n, uint64_t *errors, FILE *err)
{
    for (size_t i = 0; i < n; i++) {
        const vfile *f = &files[i];
        if (f->h.read_error && f->h.read_what[0]) {
            ot_say(err, "orgtrail: %s: %s\n", f->h.path, f->h.read_what);
            (*errors)++;
        } else if (f->h.read_error) {
            ot_say(err, "orgtrail: %s: cannot read: %s\n", f->h.path, strerror(-f->h.read_error));
            (*errors)++;
        } else if (f->h.decode_error[0]) {
            ot_say(err, "orgtrail: %s: byte %llu: %s\n", f->h.path, (unsigned long long)f->h.error_offset,
                   f->h.decode_error);
            (*errors)++;
        }
    }
}

int verify_run(const verify_options *opt, verify_report *rep, FILE *out, FILE *err)
{
    memset(rep, 0, sizeof *rep);
    checker c = { .opt = opt };
    known_signature *sigs = NULL;
    size_t nsigs = 0;
    digest_keys *keys = NULL;
    vdigest **order = NULL;
    hash_item **items = NULL;
    s3_client *s3 = NULL;         /* for s3:// PATHs */
    int rc = 0;
    parse_ctx *ctx = parse_create();
    if (!ctx) {
        rc = -ENOMEM;
        goto out;
    }
    if (opt->public_keys)
        keys = load_keys(ctx, opt->public_keys, &rep->errors, err);
    if (opt->signatures)
        rc = load_signatures(ctx, opt->signatures, &sigs, &nsigs, &rep->errors, err);
    if (rc)
        goto out;
    for (size_t i = 0; i < opt->npaths && !s3; i++) {
        char why[512];
        if (strncmp(opt->paths[i], "s3://", 5) != 0)
            continue;
        rc = s3_client_from_env(opt->endpoint_url, &s3, why, sizeof why);
        if (rc == -EACCES) {      /* nothing in the bucket can be read: the run stops */
            ot_say(err, "orgtrail: %s: %s\n", opt->paths[i], why);
            rep->errors++;
            rc = 0;
            goto out;
        }
        if (rc)
            goto out;
    }
    rc = list_files(opt, s3, &c.files, &c.nfiles, &rep->errors, err);
    if (rc)
        goto out;
    items = c.nfiles ? calloc(c.nfiles, sizeof *items) : NULL;
    if (c.nfiles && !items) {
        rc = -ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < c.nfiles; i++)
        items[i] = &c.files[i].h;
    hash_options ho = { .workers = opt->workers, .io_depth = opt->io_depth, .io = opt->io, .quiet = opt->quiet,
                        .s3 = s3, .s3_concurrency = opt->s3_concurrency };
    rc = hash_files(items, c.nfiles, &ho, &rep->bytes_hashed, err);
    if (rc)
        goto out;
    report_file_errors(c.files, c.nfiles, &rep->errors, err);

    for (size_t i = 0; i < c.nfiles; i++)
        c.ndigests += c.files[i].is_digest;
    c.digests = c.ndigests ? calloc(c.ndigests, sizeof *c.digests) : NULL;
    order = c.ndigests ? calloc(c.ndigests, sizeof *order) : NULL;
    if (c.ndigests && (!c.digests || !order)) {
        rc = -ENOMEM;
        goto out;
    }
    size_t nd = 0, nparsed = 0;
    for (size_t i = 0; i < c.nfiles; i++) {
        if (!c.files[i].is_digest)
            continue;
        c.files[i].digest = nd;
        vdigest *d = &c.digests[nd++];
        d->f = &c.files[i];
        d->next = SIZE_MAX;
        if (d->f->h.read_error || d->f->h.decode_error[0]) {
            d->invalid = "it cannot be read";
            continue;
        }
        char why[200];
        if (digest_parse(ctx, d->f->h.text.data, d->f->h.text.len, &d->info, why, sizeof why) != 0) {
            ot_say(err, "orgtrail: %s: not a CloudTrail digest: %s\n", d->f->h.path, why);
            rep->errors++;
            d->invalid = "it is not a CloudTrail digest";
            continue;
        }
        d->parsed = 1;
        buf_free(&d->f->h.text);      /* the fields are copies: the text is not needed again */
        d->chain = chain_of(d);
        if (!d->chain) {
            rc = -ENOMEM;
            goto out;
        }
        if (!d->f->next_only)
            order[nparsed++] = d;
    }
    /* the next digest of each: the one that names it as previous */
    for (size_t i = 0; i < c.ndigests; i++) {
        vdigest *p = c.digests[i].parsed ? digest_by_key(&c, c.digests[i].info.prev_object) : NULL;
        if (p && p->next == SIZE_MAX)
            p->next = i;
    }
    if (nparsed > 1)
        qsort(order, nparsed, sizeof *order, cmp_chain);
    for (size_t i = 0, j; i < nparsed; i = j) {
        for (j = i + 1; j < nparsed && strcmp(order[j]->chain, order[i]->chain) == 0; j++)
            ;
        check_chain(&c, order + i, j - i);
    }
    for (size_t i = 0; i < c.ndigests; i++) {
        vdigest *d = &c.digests[i];
        if (d->f->next_only)
            continue;
        if (d->parsed) {
            check_digest(&c, d, keys, sigs, nsigs);
            check_logs(&c, d);
        }
        rep->digests++;
        if (d->invalid) {
            char *why = json_str(&c, d->invalid);
            add(&c, DIGEST_INVALID, d->f->key, d->next != SIZE_MAX ? c.digests[d->next].f->key : d->f->key,
                ",\"reason\":%s", why ? why : "null");
            free(why);
        } else if (d->unverified) {
            rep->unverified++;
            if (!opt->quiet && keys)
                ot_say(err, "orgtrail: %s: unverified: %s\n", d->f->key,
                       d->next != SIZE_MAX ? "the next digest has no previousDigestSignature"
                       : d->newest ? "the newest of its chain: its signature is in the S3 object's "
                                     "metadata (x-amz-meta-signature), give it with --signatures"
                                   : "its signature is in the next digest, which is not in the archive");
        } else {
            rep->digests_valid++;
        }
    }
    /* a newest digest deleted is named by no digest: only --signatures, made
     * from the live bucket, still names it */
    for (size_t i = 0; i < nsigs; i++)
        if (!digest_by_key(&c, sigs[i].key) && !digest_pruned(&opt->walk, key_of(sigs[i].key)))
            add(&c, DIGEST_MISSING, key_of(sigs[i].key), "", ",\"named_by\":\"--signatures\"");
    /* an archive with no digest proves nothing: say so, and exit 1 */
    if (c.ndigests == 0) {
        ot_say(err, "orgtrail: no digest file (CloudTrail-Digest/) under the PATHs%s: nothing is verified "
               "(is log file validation on for the trail?)\n",
               opt->walk.accounts || opt->walk.regions || opt->walk.has_since || opt->walk.has_until
                   ? " that --accounts, --regions, --since and --until leave" : "");
        rep->errors++;
    }
    if (!keys && rep->unverified && !opt->quiet)
        ot_say(err, "orgtrail: no public keys (--public-keys): %llu digest signatures not checked\n",
               (unsigned long long)rep->unverified);
    check_unlisted(&c);
    if (c.oom) {
        rc = -ENOMEM;
        goto out;
    }
    /* log files listed, and those whose every listing matched */
    for (size_t i = 0; i < c.nfiles; i++)
        rep->logs += c.files[i].listed;
    rep->logs_valid = rep->logs;
    if (c.nfound > 1)
        qsort(c.found, c.nfound, sizeof *c.found, cmp_finding);
    uint64_t missing = 0;
    for (size_t i = 0; i < c.nfound; i++) {
        /* sorted by key: a log missing from two digests counts once */
        missing += c.found[i].kind == LOG_MISSING &&
                   (i == 0 || c.found[i - 1].kind != LOG_MISSING || strcmp(c.found[i - 1].key, c.found[i].key));
        if (c.found[i].kind == LOG_MODIFIED) {
            vfile *f = file_by_key(c.files, c.nfiles, c.found[i].key);
            if (f && f->listed == 1) {
                f->listed = 2;        /* counted once however many digests list it */
                rep->logs_valid--;
            }
        }
    }
    rep->logs += missing;
    rep->problems = c.nfound;
    rc = write_findings(&c, out);
out:
    ot_say(err, "orgtrail: %llu/%llu digest files valid, %llu/%llu log files valid, %llu unverified, "
           "%llu problems\n", (unsigned long long)rep->digests_valid, (unsigned long long)rep->digests,
           (unsigned long long)rep->logs_valid, (unsigned long long)rep->logs,
           (unsigned long long)rep->unverified, (unsigned long long)rep->problems);
    for (size_t i = 0; i < c.nfound; i++)
        free(c.found[i].extra);
    free(c.found);
    for (size_t i = 0; i < c.nmissing; i++)
        free(c.missing[i].region);
    free(c.missing);
    for (size_t i = 0; i < c.ndigests && c.digests; i++) {
        digest_info_clear(&c.digests[i].info);
        free(c.digests[i].chain);
    }
    free(c.digests);
    free(order);
    free(items);
    for (size_t i = 0; i < c.nfiles; i++) {
        free(c.files[i].h.path);
        free(c.files[i].h.signature);
        buf_free(&c.files[i].h.text);
    }
    free(c.files);
    s3_client_free(s3);
    for (size_t i = 0; i < nsigs; i++) {
        free(sigs[i].key);
        free(sigs[i].signature);
    }
    free(sigs);
    digest_keys_free(keys);
    parse_free(ctx);
    return rc;
}
