#include "context.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "parse.h"
#include "util.h"

#define INVENTORY_MAX ((size_t)1 << 30)   /* bytes; a larger file is refused, not half read */

typedef struct {
    char *id;
    char *value;        /* the policy's type, or the account's name */
    size_t seq;         /* order seen: the first of equal ids wins */
} entry;

typedef struct {
    entry *v;
    size_t n, cap;
    int sorted;
} table;

struct org_context {
    table policies, accounts;
    char **trusted;
    size_t ntrusted;
};

org_context *context_create(void)
{
    return calloc(1, sizeof(org_context));
}

static void table_free(table *t)
{
    for (size_t i = 0; i < t->n; i++) {
        free(t->v[i].id);
        free(t->v[i].value);
    }
    free(t->v);
}

void context_free(org_context *c)
{
    if (!c)
        return;
    table_free(&c->policies);
    table_free(&c->accounts);
    for (size_t i = 0; i < c->ntrusted; i++)
        free(c->trusted[i]);
    free(c->trusted);
    free(c);
}

static int table_add(table *t, const ot_slice *id, const ot_slice *value)
{
    if (ot_grow(&t->v, &t->cap, t->n, sizeof *t->v, 64))
        return -ENOMEM;
    entry *e = &t->v[t->n];
    e->id = strndup(id->ptr, id->len);
    e->value = strndup(value->ptr, value->len);
    e->seq = t->n;
    if (!e->id || !e->value) {
        free(e->id);
        free(e->value);
        return -ENOMEM;
    }
    t->n++;
    t->sorted = 0;
    return 0;
}

static int entry_cmp(const void *a, const void *b)
{
    const entry *x = a, *y = b;
    int c = strcmp(x->id, y->id);
    return c ? c : (x->seq > y->seq) - (x->seq < y->seq);
}

static void table_sort(table *t)
{
    if (!t->sorted && t->n > 1)
        qsort(t->v, t->n, sizeof *t->v, entry_cmp);
    t->sorted = 1;
}

static const char *table_find(const table *t, const char *id, size_t n)
{
    size_t lo = 0, hi = t->n;
    while (lo < hi) {       /* the first entry whose id is >= the key */
        size_t mid = lo + (hi - lo) / 2;
        const char *k = t->v[mid].id;
        size_t klen = strlen(k);
        int c = memcmp(k, id, klen < n ? klen : n);
        if (c == 0)
            c = (klen > n) - (klen < n);
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < t->n && strlen(t->v[lo].id) == n && memcmp(t->v[lo].id, id, n) == 0)
        return t->v[lo].value;
    return NULL;
}

/* Adds list[].Id -> list[].field for every element where both are strings. */
static long add_list(table *t, parse_ctx *pc, const char *list, const char *field, int *present)
{
    long n = parse_array_len(pc, list);
    if (n < 0)
        return 0;
    *present = 1;
    long added = 0;
    for (long i = 0; i < n; i++) {
        ot_slice id, value;
        if (parse_get_element(pc, list, (size_t)i, "Id", &id) != PARSE_STRING ||
            parse_get_element(pc, list, (size_t)i, field, &value) != PARSE_STRING)
            continue;
        if (table_add(t, &id, &value))
            return -ENOMEM;
        added++;
    }
    return added;
}

static int read_whole(const char *path, char **out, size_t *len, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "%s", strerror(errno));
        return -1;
    }
    ot_buf b = {0};
    int rc = 0;
    for (;;) {
        if (b.len >= INVENTORY_MAX) {
            snprintf(err, errlen, "larger than %zu bytes", INVENTORY_MAX);
            rc = -1;
            break;
        }
        if (buf_reserve(&b, 1 << 16)) {
            snprintf(err, errlen, "out of memory");
            rc = -1;
            break;
        }
        ssize_t got = read(fd, b.data + b.len, b.cap - b.len);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            snprintf(err, errlen, "%s at byte %zu", strerror(errno), b.len);
            rc = -1;
            break;
        }
        if (got == 0)
            break;
        b.len += (size_t)got;
    }
    close(fd);
    if (rc) {
        buf_free(&b);
        return -1;
    }
    *out = b.data;
    *len = b.len;
    return 0;
}

long context_load_inventory(org_context *c, const char *path, char *err, size_t errlen)
{
    char *text = NULL;
    size_t len = 0;
    if (read_whole(path, &text, &len, err, errlen))
        return -1;
    long total = -1;
    parse_ctx *pc = parse_create();
    char why[200];
    size_t at = 0;
    if (!pc) {
        snprintf(err, errlen, "out of memory");
    } else if (parse_record(pc, text, len, PARSE_KIND_EVENT, why, sizeof why, &at)) {
        if (at)
            snprintf(err, errlen, "not JSON as the AWS CLI prints it (%s at byte %zu)", why, at);
        else
            snprintf(err, errlen, "not JSON as the AWS CLI prints it (%s)", why);
    } else {
        int present = 0;
        long p = add_list(&c->policies, pc, "Policies", "Type", &present);
        long a = add_list(&c->accounts, pc, "Accounts", "Name", &present);
        long d = add_list(&c->accounts, pc, "DelegatedAdministrators", "Name", &present);
        if (p < 0 || a < 0 || d < 0)
            snprintf(err, errlen, "out of memory");
        else if (!present)
            snprintf(err, errlen, "holds no Policies, Accounts or DelegatedAdministrators list "
                                  "(want the JSON of aws organizations list-policies, list-accounts "
                                  "or list-delegated-administrators)");
        else
            total = p + a + d;
    }
    parse_free(pc);
    free(text);
    table_sort(&c->policies);
    table_sort(&c->accounts);
    return total;
}

int context_add_trusted(org_context *c, const char *glob)
{
    char **t = realloc(c->trusted, (c->ntrusted + 1) * sizeof *t);
    if (!t)
        return -ENOMEM;
    c->trusted = t;
    if (!(t[c->ntrusted] = strdup(glob)))
        return -ENOMEM;
    c->ntrusted++;
    return 0;
}

const char *context_policy_type(const org_context *c, const char *id, size_t n)
{
    return c ? table_find(&c->policies, id, n) : NULL;
}

const char *context_account_name(const org_context *c, const char *id, size_t n)
{
    return c ? table_find(&c->accounts, id, n) : NULL;
}

int context_is_trusted(const org_context *c, const char *arn, size_t n)
{
    if (!c || c->ntrusted == 0 || memchr(arn, '\0', n))
        return 0;       /* an ARN with a NUL in it is no ARN a pattern was written for */
    char stack[512];
    char *s = n < sizeof stack ? stack : malloc(n + 1);
    if (!s)
        return 0;
    memcpy(s, arn, n);
    s[n] = '\0';
    int hit = 0;
    for (size_t i = 0; i < c->ntrusted && !hit; i++)
        hit = fnmatch(c->trusted[i], s, 0) == 0;
    if (s != stack)
        free(s);
    return hit;
}

int context_not_security_control(const char *type, size_t n)
{
    static const char *const management[] = {
        "TAG_POLICY", "BACKUP_POLICY", "AISERVICES_OPT_OUT_POLICY", "CHATBOT_POLICY",
    };
    for (size_t i = 0; i < sizeof management / sizeof management[0]; i++)
        if (strlen(management[i]) == n && memcmp(management[i], type, n) == 0)
            return 1;
    return 0;
}

static uint64_t table_hash(uint64_t h, const table *t)
{
    for (size_t i = 0; i < t->n; i++) {
        h = hash_bytes(h, t->v[i].id, strlen(t->v[i].id) + 1);
        h = hash_bytes(h, t->v[i].value, strlen(t->v[i].value) + 1);
    }
    return hash_bytes(h, "|", 1);
}

uint64_t context_hash(const org_context *c)
{
    uint64_t h = FNV_OFFSET;
    if (!c)
        return h;
    h = table_hash(h, &c->policies);
    h = table_hash(h, &c->accounts);
    for (size_t i = 0; i < c->ntrusted; i++)
        h = hash_bytes(h, c->trusted[i], strlen(c->trusted[i]) + 1);
    return h;
}
