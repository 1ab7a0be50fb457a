#include "emit.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/modes.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "finding.h"
#include "util.h"

/* GHASH, libcrypto's (through its GCM128 interface, PCLMUL where the CPU
 * has it), under a hash key H drawn at random once a process. GHASH is
 * a universal hash: two different spans collide for a random H with
 * probability about their length in blocks over 2^64 (the half kept), and
 * a log's author never sees H or a hash. Nothing is encrypted, so GCM's
 * block cipher is a stand-in: it hands out H for the zero block (GCM's
 * H = E(0)) and a random mask for the one counter block a tag uses. */
struct emit_hasher {
    GCM128_CONTEXT *gcm;
};

static unsigned char hash_key[16], hash_mask[16];
static int hash_key_ok;
static pthread_once_t hash_key_once = PTHREAD_ONCE_INIT;
static const unsigned char hash_iv[12];    /* one IV: the tags are never seen */

static void draw_hash_key(void)
{
    hash_key_ok = RAND_bytes(hash_key, sizeof hash_key) == 1 && RAND_bytes(hash_mask, sizeof hash_mask) == 1;
}

static void stand_in_block(const unsigned char in[16], unsigned char out[16], const void *unused)
{
    static const unsigned char zero[16];
    (void)unused;
    memcpy(out, memcmp(in, zero, sizeof zero) == 0 ? hash_key : hash_mask, 16);
}

emit_hasher *emit_hasher_create(void)
{
    pthread_once(&hash_key_once, draw_hash_key);
    emit_hasher *h = calloc(1, sizeof *h);
    if (!h || !hash_key_ok || !(h->gcm = CRYPTO_gcm128_new(NULL, stand_in_block))) {
        emit_hasher_free(h);
        return NULL;
    }
    return h;
}

void emit_hasher_free(emit_hasher *h)
{
    if (!h)
        return;
    CRYPTO_gcm128_release(h->gcm);
    free(h);
}

int emit_content_hash(emit_hasher *h, const char *content, size_t len, uint64_t *out)
{
    unsigned char tag[16];
    CRYPTO_gcm128_setiv(h->gcm, hash_iv, sizeof hash_iv);
    /* the span as GCM's additional data: the tag is its GHASH, masked */
    int rc = CRYPTO_gcm128_aad(h->gcm, (const unsigned char *)content, len);
    CRYPTO_gcm128_tag(h->gcm, tag, sizeof tag);
    memcpy(out, tag, sizeof *out);
    return rc ? -1 : 0;     /* over GCM's length limit (2^61 bytes): never */
}

uint64_t emit_rule_hash(const char *rule_id, size_t rule_len)
{
    uint64_t h = hash_bytes(FNV_OFFSET, rule_id, rule_len);
    return hash_bytes(h, "", 1);     /* the end of the rule id */
}

uint64_t emit_finding_key(uint64_t rule_hash, uint64_t content_hash)
{
    uint64_t h = hash_bytes(rule_hash, &content_hash, sizeof content_hash);
    return h ? h : 1;
}

struct emit_dedupe {
    uint64_t *slots;      /* open addressing; 0 is empty */
    size_t cap, count;
};

/* Zeroed by writing, not calloc: calloc's fresh pages map the shared zero
 * page, so the table's first probe of a page read-faults and its first
 * insert write-faults again, and the second fault flushes the other CPUs'
 * TLBs (an IPI, several microseconds on a VM). On the community set's run
 * (131,000 findings, a 4 MB table) that was 2% of all cycles. */
static uint64_t *dedupe_slots(size_t cap)
{
    uint64_t *s = malloc(cap * sizeof *s);
    if (s)
        explicit_bzero(s, cap * sizeof *s);   /* a memset the compiler may not turn back into calloc */
    return s;
}

emit_dedupe *emit_dedupe_create(void)
{
    emit_dedupe *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->cap = 1024;
    d->slots = dedupe_slots(d->cap);
    if (!d->slots) {
        free(d);
        return NULL;
    }
    return d;
}

void emit_dedupe_free(emit_dedupe *d)
{
    if (!d)
        return;
    free(d->slots);
    free(d);
}

static int dedupe_insert(uint64_t *slots, size_t cap, uint64_t key)
{
    size_t i = (size_t)(key * 0x9E3779B97F4A7C15ULL) & (cap - 1);
    while (slots[i]) {
        if (slots[i] == key)
            return 0;
        i = (i + 1) & (cap - 1);
    }
    slots[i] = key;
    return 1;
}

int emit_dedupe_add(emit_dedupe *d, uint64_t key)
{
    if (d->count * 2 >= d->cap) {
        size_t cap = d->cap * 2;
        uint64_t *s = dedupe_slots(cap);
        if (!s)
            return -ENOMEM;
        for (size_t i = 0; i < d->cap; i++)
            if (d->slots[i])
                dedupe_insert(s, cap, d->slots[i]);
        free(d->slots);
        d->slots = s;
        d->cap = cap;
    }
    int added = dedupe_insert(d->slots, d->cap, key);
    d->count += (size_t)added;
    return added;
}

long emit_dedupe_load(emit_dedupe *d, const char *buf, size_t len)
{
    parse_ctx *pc = parse_create();
    emit_hasher *h = emit_hasher_create();
    long lines = 0;
    if (!pc || !h)
        lines = -ENOMEM;
    const char *p = buf, *end = buf + len;
    while (lines >= 0 && p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        uint64_t key = finding_line_key(pc, h, p, n);
        if (key && emit_dedupe_add(d, key) < 0)
            lines = -ENOMEM;
        else
            lines++;
        p += n + 1;
    }
    emit_hasher_free(h);
    parse_free(pc);
    return lines;
}

struct emit_writer {
    int fd;
    int owned;
    uint64_t offset;      /* bytes in the output file */
    uint64_t crash_left;  /* testing: bytes until SIGKILL; 0: never */
    const emit_view *view;
    ot_buf rendered;      /* the view's rendering of the lines being written */
};

emit_writer *emit_open(const char *path, int *err)
{
    emit_writer *w = calloc(1, sizeof *w);
    if (!w) {
        *err = -ENOMEM;
        return NULL;
    }
    w->fd = STDOUT_FILENO;
    w->owned = 0;
    w->offset = 0;
    w->crash_left = 0;
    if (path) {
        w->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (w->fd < 0) {
            *err = -errno;
            free(w);
            return NULL;
        }
        w->owned = 1;
    }
    return w;
}

emit_writer *emit_open_resume(const char *path, uint64_t keep, int *err)
{
    emit_writer *w = calloc(1, sizeof *w);
    if (!w) {
        *err = -ENOMEM;
        return NULL;
    }
    w->owned = 1;
    w->offset = keep;
    w->crash_left = 0;
    w->fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    struct stat st;
    if (w->fd >= 0 && fstat(w->fd, &st) == 0 && (uint64_t)st.st_size < keep)
        errno = ESPIPE;     /* shorter than the checkpoint says: not the run's output */
    else if (w->fd >= 0 && ftruncate(w->fd, (off_t)keep) == 0 && lseek(w->fd, (off_t)keep, SEEK_SET) >= 0)
        return w;
    *err = -errno;
    if (w->fd >= 0)
        close(w->fd);
    free(w);
    return NULL;
}

uint64_t emit_offset(const emit_writer *w)
{
    return w->offset;
}

int emit_sync(emit_writer *w)
{
    return fsync(w->fd) == 0 ? 0 : -errno;
}

void emit_crash_after(emit_writer *w, uint64_t bytes)
{
    w->crash_left = bytes;
}

void emit_set_view(emit_writer *w, const emit_view *view)
{
    w->view = view;
}

static int write_bytes(emit_writer *w, const void *buf, size_t len);

int emit_write(emit_writer *w, const void *buf, size_t len)
{
    if (!w->view || len == 0)
        return write_bytes(w, buf, len);
    if (w->view->observe)
        w->view->observe(w->view->arg, buf, len);
    if (!w->view->render)
        return write_bytes(w, buf, len);
    w->rendered.len = 0;
    int rc = w->view->render(w->view->arg, buf, len, &w->rendered);
    return rc ? rc : write_bytes(w, w->rendered.data, w->rendered.len);
}

static int write_bytes(emit_writer *w, const void *buf, size_t len)
{
    const char *p = buf;
    int crash = 0;
    if (w->crash_left && len >= w->crash_left) {
        len = (size_t)w->crash_left;
        crash = 1;
    } else if (w->crash_left) {
        w->crash_left -= len;
    }
    while (len > 0) {
        ssize_t n = write(w->fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += n;
        len -= (size_t)n;
        w->offset += (uint64_t)n;
    }
    if (crash)
        raise(SIGKILL);     /* a crash: nothing after this byte is written or saved */
    return 0;
}

int emit_close(emit_writer *w)
{
    if (!w)
        return 0;
    int rc = 0;
    if (w->owned && close(w->fd) != 0)
        rc = -errno;
    buf_free(&w->rendered);
    free(w);
    return rc;
}
