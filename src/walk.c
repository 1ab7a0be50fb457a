#include "walk.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct {
    char *name;
    unsigned char type;  /* d_type */
} dir_entry;

typedef struct {
    char *dir;          /* the directory's path, as it will prefix its entries */
    dir_entry *entries; /* sorted by name */
    size_t n, next;
    dev_t dev;
    ino_t ino;
    int layout;         /* LAYOUT_*: whether its files are digests or Insights */
} dir_frame;

enum { LAYOUT_EVENTS, LAYOUT_DIGEST, LAYOUT_INSIGHT, LAYOUT_UNKNOWN };

struct walker {
    const char *const *args;
    size_t nargs, next_arg;
    dir_frame *stack;
    size_t depth, cap;
    char *current;        /* the path handed out last */
    uint64_t skipped_digest, skipped_insight;
};

walker *walk_create(const char *const *paths, size_t n)
{
    walker *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->args = paths;
    w->nargs = n;
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
    free(w);
}

uint64_t walk_skipped_digest(const walker *w)
{
    return w->skipped_digest;
}

uint64_t walk_skipped_insight(const walker *w)
{
    return w->skipped_insight;
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

/* 1 when the file is skipped (and counted) for its CloudTrail folder. */
static int skip_by_layout(walker *w, int layout)
{
    if (layout == LAYOUT_DIGEST)
        w->skipped_digest++;
    else if (layout == LAYOUT_INSIGHT)
        w->skipped_insight++;
    return layout == LAYOUT_DIGEST || layout == LAYOUT_INSIGHT;
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
    size_t cap = 0;
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (f.n == cap) {
            cap = cap ? cap * 2 : 32;
            dir_entry *entries = realloc(f.entries, cap * sizeof *entries);
            if (!entries) {
                rc = -ENOMEM;
                break;
            }
            f.entries = entries;
        }
        f.entries[f.n].name = strdup(e->d_name);
        if (!f.entries[f.n].name) {
            rc = -ENOMEM;
            break;
        }
        f.entries[f.n].type = e->d_type;
        f.n++;
    }
    closedir(d);
    if (rc) {
        frame_release(&f);
        return rc;
    }
    if (f.n > 1)
        qsort(f.entries, f.n, sizeof *f.entries, cmp_entries);

    if (w->depth == w->cap) {
        size_t ncap = w->cap ? w->cap * 2 : 8;
        dir_frame *s = realloc(w->stack, ncap * sizeof *s);
        if (!s) {
            frame_release(&f);
            return -ENOMEM;
        }
        w->stack = s;
        w->cap = ncap;
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
        if (skip_by_layout(w, layout == LAYOUT_UNKNOWN ? layout_of(path) : layout)) {
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
    if (S_ISDIR(st.st_mode))
        return push_dir(w, path, &st, err, errlen);
    return visit_path(w, path, DT_REG, layout, err, errlen);
}

int walk_next(walker *w, const char **path, char *err, size_t errlen)
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
            int rc = visit(w, p, t, f->layout, path, err, errlen);
            if (rc)
                return rc;
            continue;
        }
        if (w->next_arg == w->nargs)
            return WALK_END;
        const char *arg = w->args[w->next_arg++];
        if (strcmp(arg, "-") == 0) {
            *path = NULL;
            return WALK_INPUT;
        }
        char *p = strdup(arg);
        if (!p)
            return -ENOMEM;
        int rc = visit(w, p, DT_UNKNOWN, LAYOUT_UNKNOWN, path, err, errlen);
        if (rc)
            return rc;
    }
}
