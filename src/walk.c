#include "walk.h"

#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

typedef struct {
    char *name;
    unsigned char type;  /* d_type */
    ino_t ino;           /* d_ino */
} dir_entry;

typedef struct {
    char *dir;          /* the directory's path, as it will prefix its entries */
    dir_entry *entries; /* sorted by name */
    size_t n, next;
    dev_t dev;
    ino_t ino;
    int layout;         /* LAYOUT_*: whether its files are digests or Insights */
} dir_frame;

enum { LAYOUT_EVENTS, LAYOUT_DIGEST, LAYOUT_INSIGHT, LAYOUT_UNKNOWN, LAYOUT_OTHER };

/* A file to leave out: its folder and name (see walk_options.exclude). */
typedef struct {
    dev_t dev;
    ino_t ino;
    char *name;
    const char *path;       /* walk_options.exclude's, for own_inodes */
    int file_known;         /* the file itself, as own_inodes last saw it */
    dev_t file_dev;
    ino_t file_ino;
} excluded;

/* What one filter level saw, for walk_explain_empty: a few distinct names
 * (bounded memory), and how many more distinct ones, by hash. */
#define SEEN_NAMES 16
#define SEEN_NAME_MAX 48
#define SEEN_HASHES 256
typedef struct {
    uint64_t passed, pruned;
    char names[SEEN_NAMES][SEEN_NAME_MAX];
    size_t n;
    uint64_t hashes[SEEN_HASHES];
    size_t nhashes;           /* distinct names beyond the first SEEN_NAMES */
} seen_level;

enum { PRUNE_NONE, PRUNE_ACCOUNT, PRUNE_REGION, PRUNE_TIME };

struct walker {
    const char *const *args;
    size_t nargs, next_arg;
    walk_options opt;
    int pruning;              /* any of since/until/accounts/regions/org_regions */
    FILE *list;               /* --files-from */
    int list_is_stdin;
    char *line;
    size_t line_cap;
    size_t root_len;          /* the current argument's length: paths below it are relative to it */
    dir_frame *stack;
    size_t depth, cap;
    char *current;        /* the path handed out last */
    int current_is_object;    /* it is one s3:// object (a --files-from line), not a prefix to list */
    char *based;              /* a --files-from line after --files-from-base */
    size_t based_cap;
    walk_counts counts;
    excluded *excl;
    size_t nexcl;
    uint64_t results;         /* WALK_INPUT and WALK_ERROR handed out */
    int total_known;          /* total holds the whole walk's results */
    uint64_t total;
    int ended;
    seen_level seen_accounts, seen_regions;
    uint64_t days_passed, days_pruned;
    int64_t day_lo, day_hi;   /* [lo, hi): the dates seen in folders and names */
};

static int setup_exclusions(walker *w);
static void precount(walker *w);

walker *walk_create(const char *const *paths, size_t n, const walk_options *opt)
{
    walker *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->args = paths;
    w->nargs = n;
    if (opt)
        w->opt = *opt;
    w->pruning = w->opt.has_since || w->opt.has_until || w->opt.accounts || w->opt.regions ||
                 w->opt.org_regions;
    w->day_lo = INT64_MAX;
    w->day_hi = INT64_MIN;
    if (setup_exclusions(w)) {
        walk_free(w);
        return NULL;
    }
    precount(w);
    return w;
}

static void frame_release(dir_frame *f)
{
    for (size_t i = 0; i < f->n; i++)
        free(f->entries[i].name);
    free(f->entries);
    free(f->dir);
}

void walk_free(walker *w)
{
    if (!w)
        return;
    while (w->depth > 0)
        frame_release(&w->stack[--w->depth]);
    free(w->stack);
    free(w->current);
    if (w->list && !w->list_is_stdin)
        fclose(w->list);
    free(w->line);
    free(w->based);
    for (size_t i = 0; i < w->nexcl; i++)
        free(w->excl[i].name);
    free(w->excl);
    free(w);
}

walk_counts walk_get_counts(const walker *w)
{
    return w->counts;
}

/* ---- the S3 key layout ---- */

typedef struct {
    const char *account, *region;   /* into the path; NULL when absent */
    size_t account_len, region_len;
    int date_parts;                 /* 0..3: YYYY, MM, DD present */
    int year, month, day;
    const char *file;               /* the last component, for files */
} key_parts;

static int all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return n > 0;
}

static int number(const char *s, size_t n)
{
    int v = 0;
    for (size_t i = 0; i < n; i++)
        v = v * 10 + (s[i] - '0');
    return v;
}

/* The last path component named AWSLogs (a mount path or a bucket prefix
 * may hold another before it), or NULL. */
static const char *last_awslogs(const char *path)
{
    const char *found = NULL;
    for (const char *p = path; (p = strstr(p, "AWSLogs")) != NULL; p += 7)
        if ((p == path || p[-1] == '/') && (p[7] == '/' || p[7] == '\0'))
            found = p;
    return found;
}

/* The first max components after the last AWSLogs/ of path: their count,
 * or -1 when there is no AWSLogs component. *rest: what follows them. */
static int key_split(const char *path, const char **comp, size_t *len, int max, const char **rest)
{
    const char *p = last_awslogs(path);
    if (!p)
        return -1;
    int n = 0;
    p += 7;
    while (*p == '/' && n < max) {
        p++;
        const char *e = strchr(p, '/');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (l == 0)
            break;
        comp[n] = p;
        len[n++] = l;
        p += l;
    }
    if (rest)
        *rest = p;
    return n;
}

/* Splits path at AWSLogs/. Returns 0 when path is not in the layout. */
static int key_parse(const char *path, int is_dir, key_parts *k)
{
    memset(k, 0, sizeof *k);
    const char *comp[8];
    size_t len[8];
    int n = key_split(path, comp, len, 8, NULL);
    if (n < 0)
        return 0;
    int files = is_dir ? 0 : 1;           /* the last component is a file name */
    int dirs = n - files;
    int i = 0;
    if (i < dirs && len[i] > 2 && memcmp(comp[i], "o-", 2) == 0)
        i++;
    if (i >= dirs || !all_digits(comp[i], len[i]))
        return 0;
    k->account = comp[i];
    k->account_len = len[i++];
    if (i >= dirs)
        return 1;
    if (len[i] != 10 || memcmp(comp[i], "CloudTrail", 10) != 0)
        return 0;
    if (++i >= dirs)
        return 1;
    k->region = comp[i];
    k->region_len = len[i++];
    static const size_t date_len[3] = { 4, 2, 2 };
    for (int d = 0; d < 3 && i < dirs; d++, i++) {
        if (len[i] != date_len[d] || !all_digits(comp[i], len[i]))
            return 1;                     /* not a date folder: stop here */
        int v = number(comp[i], len[i]);
        if (d == 0) k->year = v;
        if (d == 1) k->month = v;
        if (d == 2) k->day = v;
        k->date_parts = d + 1;
    }
    if (files && n > 0)
        k->file = comp[n - 1];
    return 1;
}

static int in_list(const char *const *list, size_t n, const char *s, size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(list[i]) == len && memcmp(list[i], s, len) == 0)
            return 1;
    return 0;
}

/* The delivery time in a CloudTrail file name, or -1 if the name is not one. */
static int64_t name_time(const char *name)
{
    const char *p = strstr(name, "_CloudTrail_");
    if (!p)
        return -1;
    p = strchr(p + 12, '_');                /* after the region */
    if (!p || strlen(p) < 15 || p[9] != 'T' || p[14] != 'Z')
        return -1;
    p++;
    if (!all_digits(p, 8) || !all_digits(p + 9, 4))
        return -1;
    int y = number(p, 4), mo = number(p + 4, 2), d = number(p + 6, 2);
    int hh = number(p + 9, 2), mm = number(p + 11, 2);
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || hh > 23 || mm > 59)
        return -1;
    return days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + hh * 3600 + mm * 60;
}

/* The date range [*start, *end) a key's date folders cover; 0 when it has
 * none. */
static int folder_days(const key_parts *k, int64_t *start, int64_t *end)
{
    if (k->date_parts == 0)
        return 0;
    int y = k->year, m = k->date_parts > 1 ? k->month : 1, d = k->date_parts > 2 ? k->day : 1;
    if (m < 1 || m > 12 || d < 1 || d > 31)
        return 0;
    *start = days_from_civil(y, (unsigned)m, (unsigned)d) * 86400;
    *end = k->date_parts == 3 ? *start + 86400
         : k->date_parts == 2 ? days_from_civil(m == 12 ? y + 1 : y, m == 12 ? 1u : (unsigned)m + 1, 1) * 86400
                              : days_from_civil(y + 1, 1, 1) * 86400;
    return 1;
}

/* The same, narrowed to the delivery time in the file name when it has one. */
static int key_days(const key_parts *k, int64_t *start, int64_t *end)
{
    int64_t t = k->file ? name_time(k->file) : -1;
    if (t < 0)
        return folder_days(k, start, end);
    *start = t;
    *end = t + 1;
    return 1;
}

/* Which filter prunes the parsed key k, or PRUNE_NONE. */
static int prune_reason(const walk_options *opt, const key_parts *k)
{
    if (k->account && opt->accounts && !in_list(opt->accounts, opt->naccounts, k->account, k->account_len))
        return PRUNE_ACCOUNT;
    if (k->region) {
        static const char *const org_home[] = { "us-east-1", "us-gov-west-1", "cn-northwest-1" };
        if (opt->regions && !in_list(opt->regions, opt->nregions, k->region, k->region_len))
            return PRUNE_REGION;
        if (opt->org_regions && !in_list(org_home, 3, k->region, k->region_len))
            return PRUNE_REGION;
    }
    /* Delivery times that can hold a record of [since, until): a file holds
     * records from before its delivery, delivered up to key_slack late. */
    int64_t lo = opt->has_since ? opt->since - opt->key_slack : INT64_MIN;
    int64_t hi = opt->has_until ? opt->until + opt->key_slack : INT64_MAX;
    int64_t start, end;
    if (folder_days(k, &start, &end) && (end <= lo || start >= hi))
        return PRUNE_TIME;
    if (k->file) {
        int64_t t = name_time(k->file);
        if (t >= 0 && (t < lo || t >= hi))
            return PRUNE_TIME;
    }
    return PRUNE_NONE;
}

int walk_prunes(const walk_options *opt, const char *path, int is_dir)
{
    key_parts k;
    return key_parse(path, is_dir, &k) && prune_reason(opt, &k) != PRUNE_NONE;
}

static void seen_add(seen_level *l, const char *name, size_t len)
{
    if (len >= SEEN_NAME_MAX)
        len = SEEN_NAME_MAX - 1;
    for (size_t i = 0; i < l->n; i++)
        if (strlen(l->names[i]) == len && memcmp(l->names[i], name, len) == 0)
            return;
    if (l->n < SEEN_NAMES) {
        memcpy(l->names[l->n], name, len);
        l->names[l->n++][len] = '\0';
        return;
    }
    uint64_t h = hash_bytes(FNV_OFFSET, name, len);
    for (size_t i = 0; i < l->nhashes; i++)
        if (l->hashes[i] == h)
            return;
    if (l->nhashes < SEEN_HASHES)
        l->hashes[l->nhashes++] = h;
}

/* Prunes like walk_prunes, and notes what each filter level saw. */
static int walker_prunes(walker *w, const char *path, int is_dir)
{
    key_parts k;
    if (!key_parse(path, is_dir, &k))
        return 0;
    int why = prune_reason(&w->opt, &k);
    if (k.account) {
        seen_add(&w->seen_accounts, k.account, k.account_len);
        if (why == PRUNE_ACCOUNT)
            w->seen_accounts.pruned++;
        else
            w->seen_accounts.passed++;
    }
    if (k.region && why != PRUNE_ACCOUNT) {
        seen_add(&w->seen_regions, k.region, k.region_len);
        if (why == PRUNE_REGION)
            w->seen_regions.pruned++;
        else
            w->seen_regions.passed++;
    }
    int64_t start, end;
    if (why != PRUNE_ACCOUNT && why != PRUNE_REGION && key_days(&k, &start, &end)) {
        if (start < w->day_lo)
            w->day_lo = start;
        if (end > w->day_hi)
            w->day_hi = end;
        if (why == PRUNE_TIME)
            w->days_pruned++;
        else if (end - start <= 86400)
            w->days_passed++;     /* a year or month folder that passes may hold no day that does */
    }
    return why != PRUNE_NONE;
}

/* The part of path a shard is chosen by: from its AWSLogs/ component on (the
 * S3 key, whatever the mount point, bucket prefix or list), else the path
 * relative to the argument it was found under. */
const char *walk_shard_key(const char *path, const char *relative)
{
    const char *key = last_awslogs(path);
    return key ? key : relative;
}

unsigned walk_shard_of(const char *key, unsigned count)
{
    return (unsigned)(hash_bytes(FNV_OFFSET, key, strlen(key)) % count);
}

static int has_component(const char *path, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = path; (p = strstr(p, name)) != NULL; p += n) {
        int starts = p == path || p[-1] == '/';
        int ends = p[n] == '/' || p[n] == '\0';
        if (starts && ends)
            return 1;
    }
    return 0;
}

static int layout_of(const char *path)
{
    if (has_component(path, "CloudTrail-Digest"))
        return LAYOUT_DIGEST;
    if (has_component(path, "CloudTrail-Insight"))
        return LAYOUT_INSIGHT;
    return LAYOUT_EVENTS;
}

/*
 * 1 when path is in the S3 layout but outside an account's CloudTrail,
 * CloudTrail-Digest and CloudTrail-Insight folders: another service's
 * folder of a shared log bucket (vpcflowlogs/, elasticloadbalancing/,
 * Config/, a Hive-style aws-account-id=... partition), or a file directly
 * in AWSLogs/, an organization or an account folder
 * (ConfigWritabilityCheckFile, ELBAccessLogTestFile). A path whose first
 * folders do not look like the layout is not judged (0).
 */
static int other_by_key(const char *path, int is_dir)
{
    const char *comp[3];
    size_t len[3];
    const char *rest;
    int n = key_split(path, comp, len, 3, &rest);
    if (n < 0)
        return 0;
    int last_is_file = !is_dir && *rest == '\0';   /* comp[n - 1] is the file's name */
    int i = 0;
    if (n - last_is_file > 0 && len[0] > 2 && memcmp(comp[0], "o-", 2) == 0)
        i++;
    if (i == n - 1 && last_is_file)
        return 1;                          /* a file in AWSLogs/ or o-.../ */
    if (i >= n)
        return 0;
    if (len[i] > 15 && memcmp(comp[i], "aws-account-id=", 15) == 0)
        return 1;
    if (!all_digits(comp[i], len[i]))
        return 0;
    if (++i >= n)
        return 0;
    if (i == n - 1 && last_is_file)
        return 1;                          /* a file in the account folder */
    static const char *const trail[] = { "CloudTrail", "CloudTrail-Digest", "CloudTrail-Insight" };
    return !in_list(trail, 3, comp[i], len[i]);
}

/* The folder part of path ("." when it has none), in buf. */
static const char *dir_of(const char *path, char *buf, size_t len, const char **base)
{
    const char *slash = strrchr(path, '/');
    *base = slash ? slash + 1 : path;
    if (!slash)
        return ".";
    size_t n = slash == path ? 1 : (size_t)(slash - path);
    if (n >= len)
        return NULL;
    memcpy(buf, path, n);
    buf[n] = '\0';
    return buf;
}

static int setup_exclusions(walker *w)
{
    if (w->opt.nexclude == 0)
        return 0;
    w->excl = calloc(w->opt.nexclude, sizeof *w->excl);
    if (!w->excl)
        return -ENOMEM;
    char dir[4096];
    for (size_t i = 0; i < w->opt.nexclude; i++) {
        const char *base;
        const char *d = dir_of(w->opt.exclude[i], dir, sizeof dir, &base);
        struct stat st;
        /* no folder: nothing there can be walked into either */
        if (!d || *base == '\0' || stat(d, &st) != 0)
            continue;
        excluded *e = &w->excl[w->nexcl];
        e->name = strdup(base);
        if (!e->name)
            return -ENOMEM;
        e->dev = st.st_dev;
        e->ino = st.st_ino;
        e->path = w->opt.exclude[i];
        w->nexcl++;
    }
    return 0;
}

/* 1 when the file at path is one of the run's own. Its folder is the top
 * frame's when it was found in one (no stat), else stat'ed. */
static int is_excluded(const walker *w, const char *path, int in_frame)
{
    if (w->nexcl == 0)
        return 0;
    char buf[4096];
    const char *base;
    const char *d = dir_of(path, buf, sizeof buf, &base);
    struct stat st;
    if (in_frame) {
        st.st_dev = w->stack[w->depth - 1].dev;
        st.st_ino = w->stack[w->depth - 1].ino;
    } else if (!d || stat(d, &st) != 0) {
        return 0;
    }
    for (size_t i = 0; i < w->nexcl; i++)
        if (w->excl[i].dev == st.st_dev && w->excl[i].ino == st.st_ino && strcmp(w->excl[i].name, base) == 0)
            return 1;
    return 0;
}

/* The own files' inodes as they are now: once a folder, and before each
 * link or argument looked at (the output is made after walk_create; a
 * checkpoint is replaced by rename). */
static void own_inodes(walker *w)
{
    for (size_t i = 0; i < w->nexcl; i++) {
        struct stat st;
        excluded *e = &w->excl[i];
        e->file_known = stat(e->path, &st) == 0;
        e->file_dev = st.st_dev;
        e->file_ino = st.st_ino;
    }
}

/* 1 when (dev, ino) is one of the run's own files, as own_inodes last saw
 * them. */
static int own_inode(const walker *w, dev_t dev, ino_t ino)
{
    for (size_t i = 0; i < w->nexcl; i++)
        if (w->excl[i].file_known && w->excl[i].file_dev == dev && w->excl[i].file_ino == ino)
            return 1;
    return 0;
}

/* 1 when st, a file reached through a path that is not a plain directory
 * entry (a symlink, an argument, a --files-from line), is one of the run's
 * own files: a link to the output names another folder, or another name,
 * than is_excluded knows. */
static int is_own_target(walker *w, const struct stat *st)
{
    own_inodes(w);
    return own_inode(w, st->st_dev, st->st_ino);
}

/* 1 when a plain entry of folder f is another name of one of the run's own
 * files (a hard link): its d_ino is one's inode on f's device, and stat
 * agrees (d_ino alone is not st_ino on every filesystem). */
static int is_own_link(const walker *w, const dir_frame *f, const dir_entry *e, const char *path)
{
    struct stat st;
    return own_inode(w, f->dev, e->ino) && stat(path, &st) == 0 && own_inode(w, st.st_dev, st.st_ino);
}

enum { KEEP, SKIP_DIGEST, SKIP_INSIGHT, SKIP_OTHER, SKIP_OWN, SKIP_PRUNED, SKIP_SHARD };

/* Whether the regular file at path is handed out, and if not why. relative:
 * path relative to its argument, for sharding. record: note what the
 * filters saw (the walk itself; a count ahead does not). */
static int file_verdict(walker *w, const char *path, const char *relative, int layout, int in_frame, int record)
{
    if (layout == LAYOUT_UNKNOWN)
        layout = layout_of(path);
    if (layout == LAYOUT_DIGEST && !w->opt.include_digests)
        return SKIP_DIGEST;
    if (layout == LAYOUT_INSIGHT)
        return SKIP_INSIGHT;
    if (other_by_key(path, 0))
        return SKIP_OTHER;
    if (is_excluded(w, path, in_frame))
        return SKIP_OWN;
    if (w->pruning && (record ? walker_prunes(w, path, 0) : walk_prunes(&w->opt, path, 0)))
        return SKIP_PRUNED;
    if (w->opt.shard_count > 1 &&
        walk_shard_of(walk_shard_key(path, relative), w->opt.shard_count) != w->opt.shard_index)
        return SKIP_SHARD;
    return KEEP;
}

static int cmp_entries(const void *a, const void *b)
{
    return strcmp(((const dir_entry *)a)->name, ((const dir_entry *)b)->name);
}

static char *join(const char *dir, const char *name)
{
    size_t dl = strlen(dir), nl = strlen(name);
    int slash = dl > 0 && dir[dl - 1] != '/';
    char *p = malloc(dl + slash + nl + 1);
    if (!p)
        return NULL;
    memcpy(p, dir, dl);
    if (slash)
        p[dl] = '/';
    memcpy(p + dl + slash, name, nl + 1);
    return p;
}

/* Opens dir (already stat'ed as st) as a new frame, unless it is a loop.
 * Returns 0, WALK_ERROR with err set, or -ENOMEM. Takes ownership of dir. */
static int visit_path(walker *w, char *path, unsigned char type, int layout, char *err, size_t errlen);

static int push_dir(walker *w, char *dir, const struct stat *st, char *err, size_t errlen)
{
    for (size_t i = 0; i < w->depth; i++) {
        if (w->stack[i].dev == st->st_dev && w->stack[i].ino == st->st_ino) {
            snprintf(err, errlen, "directory loop (same directory as %s)", w->stack[i].dir);
            free(w->current);
            w->current = dir;
            return WALK_ERROR;
        }
    }
    if (w->pruning && w->depth > 0 && walker_prunes(w, dir, 1)) {
        w->counts.dirs_pruned++;
        free(dir);
        return 0;
    }
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(err, errlen, "cannot open directory: %s", strerror(errno));
        free(w->current);
        w->current = dir;
        return WALK_ERROR;
    }
    /* a folder's files share its layout, so the path is looked at once */
    int layout = w->depth > 0 ? w->stack[w->depth - 1].layout : LAYOUT_EVENTS;
    if (layout == LAYOUT_EVENTS)
        layout = layout_of(dir);
    dir_frame f = { .dir = dir, .dev = st->st_dev, .ino = st->st_ino, .layout = layout };
    own_inodes(w);
    size_t cap = 0;
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (ot_grow(&f.entries, &cap, f.n, sizeof *f.entries, 32)) {
            rc = -ENOMEM;
            break;
        }
        f.entries[f.n].name = strdup(e->d_name);
        if (!f.entries[f.n].name) {
            rc = -ENOMEM;
            break;
        }
        f.entries[f.n].type = e->d_type;
        f.entries[f.n].ino = e->d_ino;
        f.n++;
    }
    closedir(d);
    if (rc) {
        frame_release(&f);
        return rc;
    }
    if (f.n > 1)
        qsort(f.entries, f.n, sizeof *f.entries, cmp_entries);

    if (ot_grow(&w->stack, &w->cap, w->depth, sizeof *w->stack, 8)) {
        frame_release(&f);
        return -ENOMEM;
    }
    w->stack[w->depth++] = f;
    return 0;
}

/* Handles one path: a file to hand out, a directory to enter, or an error
 * (then *out names the path). type is a d_type (DT_UNKNOWN asks stat).
 * Takes ownership of path. */
static int visit(walker *w, char *path, unsigned char type, int layout, const char **out, char *err,
                 size_t errlen)
{
    int rc = visit_path(w, path, type, layout, err, errlen);
    if (rc == WALK_INPUT || rc == WALK_ERROR)
        *out = w->current;
    return rc;
}

static int visit_path(walker *w, char *path, unsigned char type, int layout, char *err, size_t errlen)
{
    struct stat st;
    if (type == DT_REG) {
        int v = file_verdict(w, path, path + (w->depth > 0 ? w->root_len : 0), layout, w->depth > 0, 1);
        uint64_t *counter[] = {
            [SKIP_DIGEST] = &w->counts.skipped_digest,   [SKIP_INSIGHT] = &w->counts.skipped_insight,
            [SKIP_OTHER] = &w->counts.skipped_other_files, [SKIP_OWN] = &w->counts.skipped_own_files,
            [SKIP_PRUNED] = &w->counts.files_pruned,     [SKIP_SHARD] = &w->counts.files_other_shards,
        };
        if (v != KEEP) {
            (*counter[v])++;
            free(path);
            return 0;
        }
        free(w->current);
        w->current = path;
        return WALK_INPUT;
    }
    if (stat(path, &st) != 0) {
        snprintf(err, errlen, "cannot open: %s", strerror(errno));
        free(w->current);
        w->current = path;
        return WALK_ERROR;
    }
    if (S_ISDIR(st.st_mode)) {
        /* another service's folder: not even listed */
        if (other_by_key(path, 1)) {
            w->counts.skipped_other_dirs++;
            free(path);
            return 0;
        }
        if (w->depth == 0)
            w->total_known = 0;     /* a listed folder: the count ahead missed its files */
        return push_dir(w, path, &st, err, errlen);
    }
    if (is_own_target(w, &st)) {
        w->counts.skipped_own_files++;
        free(path);
        return 0;
    }
    return visit_path(w, path, DT_REG, layout, err, errlen);
}

/*
 * The path on one line of --files-from: as `find` prints them, or as
 * `aws s3 ls --recursive` does ("2024-03-01 10:15:00   1234 AWSLogs/..."),
 * whose key is taken. NULL for a blank line. line is n bytes long.
 */
static const char *listed_path(char *line, ssize_t n)
{
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    char *p = line;
    if (n > 20 && all_digits(p, 4) && p[4] == '-' && all_digits(p + 5, 2) && p[7] == '-' &&
        all_digits(p + 8, 2) && p[10] == ' ' && all_digits(p + 11, 2) && p[13] == ':' &&
        all_digits(p + 14, 2) && p[16] == ':' && all_digits(p + 17, 2) && p[19] == ' ') {
        p += 19;                         /* aws s3 ls: date time size key */
        while (*p == ' ')
            p++;
        while (*p >= '0' && *p <= '9')
            p++;
        while (*p == ' ')
            p++;
    }
    return *p ? p : NULL;
}

/* The next path of --files-from. Returns WALK_INPUT, WALK_END, WALK_ERROR
 * or -ENOMEM. */
static int next_listed(walker *w, const char **out, char *err, size_t errlen)
{
    if (!w->opt.files_from)
        return WALK_END;
    if (!w->list) {
        w->list_is_stdin = strcmp(w->opt.files_from, "-") == 0;
        w->list = w->list_is_stdin ? stdin : fopen(w->opt.files_from, "r");
        if (!w->list) {
            snprintf(err, errlen, "cannot open the list: %s", strerror(errno));
            w->opt.files_from = NULL;
            return WALK_ERROR;
        }
    }
    for (;;) {
        errno = 0;
        ssize_t n = getline(&w->line, &w->line_cap, w->list);
        if (n < 0)
            return errno == ENOMEM ? -ENOMEM : WALK_END;
        const char *p = listed_path(w->line, n);
        if (p) {
            *out = p;
            return WALK_INPUT;
        }
    }
}

/* The count ahead of a --files-from list that is a regular file: one pass,
 * the list not kept. */
static void precount(walker *w)
{
    if (w->nargs > 0 || !w->opt.files_from || strcmp(w->opt.files_from, "-") == 0)
        return;
    FILE *f = fopen(w->opt.files_from, "r");
    if (!f)
        return;                 /* the walk reports it */
    struct stat st;
    char *line = NULL;
    size_t cap = 0;
    uint64_t count = 0;
    ssize_t n;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode))
        goto out;
    errno = 0;
    while ((n = getline(&line, &cap, f)) >= 0) {
        const char *p = listed_path(line, n);
        if (p && file_verdict(w, p, p, LAYOUT_UNKNOWN, 0, 0) == KEEP)
            count++;
    }
    if (errno == ENOMEM || ferror(f))
        goto out;
    w->total = count;
    w->total_known = 1;
out:
    free(line);
    fclose(f);
}

/* *arg becomes --files-from-base followed by *arg. Returns 0 or -ENOMEM. */
static int prepend_base(walker *w, const char **arg)
{
    size_t bl = strlen(w->opt.files_from_base), al = strlen(*arg);
    if (bl + al + 1 > w->based_cap) {
        char *b = realloc(w->based, bl + al + 1);
        if (!b)
            return -ENOMEM;
        w->based = b;
        w->based_cap = bl + al + 1;
    }
    memcpy(w->based, w->opt.files_from_base, bl);
    memcpy(w->based + bl, *arg, al + 1);
    *arg = w->based;
    return 0;
}

static int next_result(walker *w, const char **path, char *err, size_t errlen)
{
    for (;;) {
        if (w->depth > 0) {
            dir_frame *f = &w->stack[w->depth - 1];
            if (f->next == f->n) {
                frame_release(f);
                w->depth--;
                continue;
            }
            size_t i = f->next++;
            char *p = join(f->dir, f->entries[i].name);
            if (!p)
                return -ENOMEM;
            /* Anything but a regular file is stat'ed: directories for loop
             * detection, links and unknowns for their target's type. */
            unsigned char t = f->entries[i].type == DT_REG ? DT_REG : DT_UNKNOWN;
            if (t == DT_REG && is_own_link(w, f, &f->entries[i], p)) {
                w->counts.skipped_own_files++;
                free(p);
                continue;
            }
            int rc = visit(w, p, t, f->layout, path, err, errlen);
            if (rc)
                return rc;
            continue;
        }
        const char *arg;
        if (w->next_arg < w->nargs) {
            arg = w->args[w->next_arg++];
            if (strcmp(arg, "-") == 0) {
                *path = NULL;
                return WALK_INPUT;
            }
            if (strncmp(arg, "s3://", 5) == 0) {
                *path = arg;      /* run lists it (s3_lister, with these pruning and shard rules) */
                return WALK_INPUT;
            }
        } else {
            int rc = next_listed(w, &arg, err, errlen);
            if (rc != WALK_INPUT) {
                if (rc == WALK_ERROR)
                    *path = w->opt.files_from;
                return rc;
            }
            if (w->opt.files_from_base && (rc = prepend_base(w, &arg)) < 0)
                return rc;
            if (strncmp(arg, "s3://", 5) == 0) {
                /* one object: kept or left out by its key alone, as a listed file by its name */
                char *p = strdup(arg);
                if (!p)
                    return -ENOMEM;
                rc = visit_path(w, p, DT_REG, LAYOUT_UNKNOWN, err, errlen);
                if (rc == WALK_INPUT) {
                    *path = w->current;
                    w->current_is_object = 1;
                }
                if (rc)
                    return rc;
                continue;
            }
        }
        char *p = strdup(arg);
        if (!p)
            return -ENOMEM;
        size_t n = strlen(arg);
        w->root_len = n + (n > 0 && arg[n - 1] != '/');
        int rc = visit(w, p, DT_UNKNOWN, LAYOUT_UNKNOWN, path, err, errlen);
        if (rc)
            return rc;
    }
}

int walk_next(walker *w, const char **path, char *err, size_t errlen)
{
    w->current_is_object = 0;
    int rc = next_result(w, path, err, errlen);
    if (rc == WALK_INPUT || rc == WALK_ERROR)
        w->results++;
    if (rc == WALK_END && !w->ended) {
        w->ended = 1;
        w->total = w->results;
        w->total_known = 1;
    }
    return rc;
}

int walk_is_object(const walker *w)
{
    return w->current_is_object;
}

int walk_total(const walker *w, uint64_t *total)
{
    if (!w->total_known)
        return 0;
    *total = w->total;
    return 1;
}

/* Appends to buf[*at..len), truncating; *at counts what was wanted. */
static void put(char *buf, size_t len, size_t *at, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void put(char *buf, size_t len, size_t *at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(*at < len ? buf + *at : NULL, *at < len ? len - *at : 0, fmt, ap);
    va_end(ap);
    if (n > 0)
        *at += (size_t)n;
}

static void put_list(char *buf, size_t len, size_t *at, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        put(buf, len, at, "%s%s", i ? "," : "", list[i]);
}

static void put_seen(char *buf, size_t len, size_t *at, const seen_level *l)
{
    put(buf, len, at, "; seen:");
    for (size_t i = 0; i < l->n; i++)
        put(buf, len, at, "%s %s", i ? "," : "", l->names[i]);
    if (l->nhashes)
        put(buf, len, at, " and %s%zu more", l->nhashes == SEEN_HASHES ? "at least " : "", l->nhashes);
}

/* A time as --since takes it: a date when it is midnight. */
static void put_time(char *buf, size_t len, size_t *at, int64_t t, int date_only)
{
    time_t tt = (time_t)t;
    struct tm tm;
    char s[32];
    if (!gmtime_r(&tt, &tm))
        return;
    strftime(s, sizeof s, date_only || t % 86400 == 0 ? "%Y-%m-%d" : "%Y-%m-%dT%H:%M:%SZ", &tm);
    put(buf, len, at, "%s", s);
}

int walk_explain_empty(const walker *w, char *buf, size_t len)
{
    const walk_options *o = &w->opt;
    size_t at = 0;
    if (w->results > 0 || len == 0)
        return 0;
    if (o->accounts && w->seen_accounts.pruned && !w->seen_accounts.passed) {
        put(buf, len, &at, "--accounts ");
        put_list(buf, len, &at, o->accounts, o->naccounts);
        put(buf, len, &at, " matched no account folder");
        put_seen(buf, len, &at, &w->seen_accounts);
    } else if ((o->regions || o->org_regions) && w->seen_regions.pruned && !w->seen_regions.passed) {
        if (o->regions) {
            put(buf, len, &at, "--regions ");
            put_list(buf, len, &at, o->regions, o->nregions);
        }
        put(buf, len, &at, "%s%s matched no region folder", o->regions && o->org_regions ? " " : "",
            o->org_regions ? "--org-regions" : "");
        put_seen(buf, len, &at, &w->seen_regions);
    } else if ((o->has_since || o->has_until) && w->days_pruned && !w->days_passed) {
        if (o->has_since) {
            put(buf, len, &at, "--since ");
            put_time(buf, len, &at, o->since, 0);
        }
        if (o->has_until) {
            /* a midnight until is --until's date form: up to the end of the day before */
            put(buf, len, &at, "%s--until ", o->has_since ? " " : "");
            put_time(buf, len, &at, o->until % 86400 == 0 ? o->until - 86400 : o->until, 0);
        }
        put(buf, len, &at, " matched no day folder; the archive's days lie within ");
        put_time(buf, len, &at, w->day_lo, 1);
        put(buf, len, &at, " .. ");
        put_time(buf, len, &at, w->day_hi - 1, 1);
    } else {
        return 0;
    }
    return 1;
}
