/*
 * walk: turns the PATH arguments into the ordered list of inputs.
 *
 * Directories are walked recursively in byte-wise name order, so a run's
 * input order (and so its output) does not depend on the file system.
 * Symlinks are followed; a directory that is its own ancestor is reported
 * as a loop and not entered. The file type comes from readdir's d_type, so
 * regular files cost no stat. Files under CloudTrail-Digest/ or
 * CloudTrail-Insight/ are counted and skipped, never opened.
 */
#ifndef ORGTRAIL_WALK_H
#define ORGTRAIL_WALK_H

#include <stddef.h>
#include <stdint.h>

typedef struct walker walker;

enum walk_status {
    WALK_END = 0,     /* no more inputs */
    WALK_INPUT = 1,   /* *path is the next input; NULL means stdin */
    WALK_ERROR = 2,   /* *path could not be walked; err says why */
};

/* paths: the arguments (borrowed; must outlive the walker). "-" is stdin.
 * Returns NULL when out of memory. */
walker *walk_create(const char *const *paths, size_t n);
/* Accepts NULL. */
void walk_free(walker *w);

/*
 * The next input or error. *path stays valid until the next call. Returns
 * a walk_status, or -ENOMEM.
 */
int walk_next(walker *w, const char **path, char *err, size_t errlen);

uint64_t walk_skipped_digest(const walker *w);
uint64_t walk_skipped_insight(const walker *w);

#endif
