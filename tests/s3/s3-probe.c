/*
 * s3-probe: drives the S3 modules (src/s3_*.h) for the tests in tests/s3.
 *
 *   s3-probe creds
 *       the credential chain's answer: source, key id, token, expiration;
 *       the region and endpoint
 *   s3-probe list [OPTIONS] s3://bucket[/prefix]
 *       the keys a pruned listing yields, one a line
 *   s3-probe walk [OPTIONS] DIR
 *       the files walk.h's local walk of DIR (a mirror of the bucket) gives,
 *       with the same pruning and sharding, relative to DIR: what list must
 *       equal
 *   s3-probe fetch [OPTIONS] s3://bucket[/prefix]
 *       lists, then GETs every key: "<sha256> <key>" per object in listing
 *       order, or "error: <line>" for an object that failed
 * OPTIONS: --endpoint-url URL, --since T, --until T, --key-slack SECONDS,
 *   --accounts A,B --regions R,S --org-regions --shard I/N, --concurrency N,
 *   --attempts N, --backoff-ms N, --timeout-ms N, --pause (every other chunk
 *   is paused, then resumed), --unsigned.
 * Last, "s3_list_requests=N s3_get_requests=N s3_retries=N s3_resumes=N" on
 * stderr. Exit status: 0, 1 when an object failed, 2 on a listing error or
 * a usage error.
 */
#include "s3_client.h"
#include "s3_creds.h"
#include "util.h"
#include "walk.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>

typedef struct {
    EVP_MD_CTX **md;
    char **err;
    size_t n;
    int pause;
    unsigned toggle;
    uint64_t *paused;
    size_t npaused;
} fetch_state;

static int on_data(void *ctx, uint64_t seq, const char *data, size_t len)
{
    fetch_state *st = ctx;
    if (st->pause && (st->toggle++ & 1) == 0) {
        st->paused[st->npaused++] = seq;
        return S3_FETCH_PAUSE;
    }
    EVP_DigestUpdate(st->md[seq], data, len);
    return 0;
}

static void on_done(void *ctx, uint64_t seq, int status, const char *err)
{
    fetch_state *st = ctx;
    if (status < 0)
        st->err[seq] = strdup(err ? err : "error");
}

static size_t split(char *s, const char **out, size_t max)
{
    size_t n = 0;
    for (char *tok = strtok(s, ","); tok && n < max; tok = strtok(NULL, ","))
        out[n++] = tok;
    return n;
}

static int when(const char *s, int64_t *t)
{
    int date_only;
    return parse_time(s, strlen(s), t, &date_only);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: s3-probe creds|list|fetch [OPTIONS] [s3://bucket/prefix]\n");
        return 2;
    }
    const char *cmd = argv[1], *endpoint = NULL, *url = NULL;
    walk_options opt = { 0 };
    const char *accounts[16], *regions[16];
    s3_retry_policy policy = { 0 };
    unsigned concurrency = 0;
    int pause = 0, unsigned_requests = 0;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--endpoint-url") == 0 && v) {
            endpoint = v;
            i++;
        } else if (strcmp(a, "--since") == 0 && v && when(v, &opt.since) == 0) {
            opt.has_since = 1;
            i++;
        } else if (strcmp(a, "--until") == 0 && v && when(v, &opt.until) == 0) {
            opt.has_until = 1;
            i++;
        } else if (strcmp(a, "--key-slack") == 0 && v) {
            opt.key_slack = atoll(v);
            i++;
        } else if (strcmp(a, "--accounts") == 0 && v) {
            opt.accounts = accounts;
            opt.naccounts = split(argv[++i], accounts, 16);
        } else if (strcmp(a, "--regions") == 0 && v) {
            opt.regions = regions;
            opt.nregions = split(argv[++i], regions, 16);
        } else if (strcmp(a, "--org-regions") == 0) {
            opt.org_regions = 1;
        } else if (strcmp(a, "--shard") == 0 && v && sscanf(v, "%u/%u", &opt.shard_index, &opt.shard_count) == 2) {
            i++;
        } else if (strcmp(a, "--concurrency") == 0 && v) {
            concurrency = (unsigned)atoi(argv[++i]);
        } else if (strcmp(a, "--attempts") == 0 && v) {
            policy.max_attempts = (unsigned)atoi(argv[++i]);
        } else if (strcmp(a, "--backoff-ms") == 0 && v) {
            policy.backoff_base_ms = policy.backoff_cap_ms = (unsigned)atoi(argv[++i]);
        } else if (strcmp(a, "--timeout-ms") == 0 && v) {
            policy.timeout_ms = atol(argv[++i]);
        } else if (strcmp(a, "--pause") == 0) {
            pause = 1;
        } else if (strcmp(a, "--unsigned") == 0) {
            unsigned_requests = 1;
        } else if (strncmp(a, "s3://", 5) == 0 || strcmp(cmd, "walk") == 0) {
            url = a;
        } else {
            fprintf(stderr, "s3-probe: bad argument '%s'\n", a);
            return 2;
        }
    }

    int status = 0;
    char err[1024];
    s3_credentials creds = { 0 };
    s3_config cfg = { 0 };
    s3_client *c = NULL;
    s3_lister *l = NULL;
    s3_fetcher *f = NULL;
    char *bucket = NULL, *prefix = NULL;
    char **keys = NULL;
    size_t nkeys = 0, cap = 0;
    fetch_state st = { 0 };

    if (strcmp(cmd, "walk") == 0) {
        walker *w = url ? walk_create(&url, 1, &opt) : NULL;
        const char *path;
        size_t root = url ? strlen(url) + 1 : 0;
        int rc;
        while (w && (rc = walk_next(w, &path, err, sizeof err)) != WALK_END)
            if (rc == WALK_INPUT)
                printf("%s\n", path + root);
            else
                fprintf(stderr, "s3-probe: walk: %s\n", rc == WALK_ERROR ? err : strerror(-rc));
        walk_free(w);
        return w ? 0 : 2;
    }
    if (s3_config_resolve(&cfg, endpoint) < 0) {
        status = 2;
        goto out;
    }
    if (!unsigned_requests) {
        int rc = s3_credentials_resolve(&creds, err, sizeof err);
        if (rc < 0) {
            fprintf(stderr, "s3-probe: %s\n", err);
            status = 2;
            goto out;
        }
    }
    if (strcmp(cmd, "creds") == 0) {
        printf("source=%s access_key=%s secret_key=%s token=%s expiration=%lld region=%s endpoint=%s\n",
               creds.source, creds.access_key, creds.secret_key, creds.session_token ? creds.session_token : "-",
               (long long)creds.expiration, cfg.region, cfg.endpoint ? cfg.endpoint : "-");
        goto out;
    }
    if (!url || s3_url_parse(url, &bucket, &prefix) < 0) {
        fprintf(stderr, "s3-probe: want an s3:// URL\n");
        status = 2;
        goto out;
    }
    c = s3_client_create(&cfg, unsigned_requests ? NULL : &creds, &policy);
    l = c ? s3_lister_create(c, bucket, prefix, &opt) : NULL;
    if (!l) {
        status = 2;
        goto out;
    }
    for (;;) {
        const char *key;
        uint64_t size;
        int rc = s3_lister_next(l, &key, &size, err, sizeof err);
        if (rc == WALK_END)
            break;
        if (rc != WALK_INPUT) {
            fprintf(stderr, "s3-probe: %s\n", rc == WALK_ERROR ? err : strerror(-rc));
            status = 2;
            goto out;
        }
        if (strcmp(cmd, "list") == 0) {
            printf("%s\n", key);
            continue;
        }
        if (nkeys == cap) {
            cap = cap ? cap * 2 : 256;
            keys = realloc(keys, cap * sizeof *keys);
        }
        keys[nkeys++] = strdup(key);
    }
    if (strcmp(cmd, "fetch") == 0) {
        s3_fetch_callbacks cb = { on_data, on_done, NULL };
        st.n = nkeys;
        st.md = calloc(nkeys + 1, sizeof *st.md);
        st.err = calloc(nkeys + 1, sizeof *st.err);
        st.paused = calloc(nkeys + 1, sizeof *st.paused);
        st.pause = pause;
        f = s3_fetcher_create(c, bucket, concurrency, &cb, &st);
        if (!f || !st.md || !st.err) {
            status = 2;
            goto out;
        }
        size_t next = 0;
        for (;;) {
            /* Bounded: at most twice the concurrency queued ahead. */
            while (next < nkeys && s3_fetcher_pending(f) < 2 * (concurrency ? concurrency : 128)) {
                st.md[next] = EVP_MD_CTX_new();
                EVP_DigestInit_ex(st.md[next], EVP_sha256(), NULL);
                s3_fetcher_add(f, keys[next], next);
                next++;
            }
            int rc = s3_fetcher_run(f, 100);
            if (rc < 0) {
                fprintf(stderr, "s3-probe: fetcher: %s\n", strerror(-rc));
                status = 2;
                goto out;
            }
            for (size_t i = 0; i < st.npaused; i++)
                s3_fetcher_resume(f, st.paused[i]);
            st.npaused = 0;
            if (rc == 0 && next == nkeys)
                break;
        }
        for (size_t i = 0; i < nkeys; i++) {
            if (st.err[i]) {
                printf("error: %s\n", st.err[i]);
                status = 1;
                continue;
            }
            unsigned char md[32];
            unsigned len = 0;
            EVP_DigestFinal_ex(st.md[i], md, &len);
            for (unsigned j = 0; j < len; j++)
                printf("%02x", md[j]);
            printf(" %s\n", keys[i]);
        }
    }
out:
    if (c) {
        s3_counts k = s3_client_counts(c);
        fprintf(stderr, "s3_list_requests=%llu s3_get_requests=%llu s3_retries=%llu s3_resumes=%llu\n",
                (unsigned long long)k.s3_list_requests, (unsigned long long)k.s3_get_requests,
                (unsigned long long)k.s3_retries, (unsigned long long)k.s3_resumes);
    }
    for (size_t i = 0; i < nkeys; i++) {
        free(keys[i]);
        if (st.md)
            EVP_MD_CTX_free(st.md[i]);
        if (st.err)
            free(st.err[i]);
    }
    free(keys);
    free(st.md);
    free(st.err);
    free(st.paused);
    s3_fetcher_free(f);
    s3_lister_free(l);
    s3_client_free(c);
    s3_credentials_clear(&creds);
    s3_config_clear(&cfg);
    free(bucket);
    free(prefix);
    return status;
}
