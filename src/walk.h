/*
 * walk: turns the PATH arguments into the ordered list of inputs.
 *
 * Directories are walked recursively in byte-wise name order, so a run's
 * input order (and so its output) does not depend on the file system.
 * Symlinks are followed; a directory that is its own ancestor is reported
 * as a loop and not entered. The file type comes from readdir's d_type, so
 * regular files cost no stat. Files under CloudTrail-Digest/ or
 * CloudTrail-Insight/ are counted and skipped, never opened. In the S3
 * layout only an account's CloudTrail/ folder holds logs: a shared log
 * bucket's other service folders (vpcflowlogs/, Config/, ...) are skipped
 * without being listed, and files that sit directly in AWSLogs/, an
 * organization or an account folder (ConfigWritabilityCheckFile) without
 * being opened. Pruning by S3 key, sharding and the run's own files
 * (walk_options.exclude) also happen here, before anything is opened.
 */
#ifndef ORGTRAIL_WALK_H
#define ORGTRAIL_WALK_H

#include <stddef.h>
#include <stdint.h>

/* What to read: pruning by S3 key, sharding, a list of paths. */
typedef struct {
    int has_since, has_until;
    int64_t since, until;       /* seconds since 1970, UTC; until is exclusive */
    int64_t key_slack;          /* seconds of slack around the window for delivery times */
    const char *const *accounts; /* account folders to read, or NULL for all */
    size_t naccounts;
    const char *const *regions; /* region folders to read, or NULL for all */
    size_t nregions;
    int org_regions;            /* only us-east-1, us-gov-west-1, cn-northwest-1 */
    unsigned shard_index;       /* this shard, 0-based */
    unsigned shard_count;       /* 0: no sharding */
    const char *files_from;     /* a file listing paths ("-": stdin), or NULL */
    const char *files_from_base; /* put before each listed path ("s3://bucket/" for `aws s3 ls
                                    --recursive` lines), or NULL */
    /* Files never to hand out (the run's own output and checkpoint files),
     * matched by their folder (device and inode) and name, so a file that
     * does not exist yet at walk_create, or is replaced by rename later, is
     * still left out. The folder must exist at walk_create. A symlink, a
     * hard link, an argument or a --files-from line is also matched by the
     * file it reaches (a link to the output names another folder or name). */
    const char *const *exclude;
    size_t nexclude;
    /* Hand out the files under CloudTrail-Digest/ too (verify reads them);
     * they are pruned by account folder only, as their date folders and
     * names follow their own layout. */
    int include_digests;
} walk_options;

/* Counters of what the walk left out. */
typedef struct {
    uint64_t skipped_digest, skipped_insight;
    uint64_t files_pruned;      /* by the timestamp in their name */
    uint64_t dirs_pruned;       /* account, region or date folders not entered */
    uint64_t files_other_shards;
    uint64_t skipped_other_files; /* S3 layout files outside the CloudTrail folders */
    uint64_t skipped_other_dirs;  /* service folders other than CloudTrail, not listed */
    uint64_t skipped_own_files;   /* walk_options.exclude matches */
} walk_counts;

typedef struct walker walker;

enum walk_status {
    WALK_END = 0,     /* no more inputs */
    WALK_INPUT = 1,   /* *path is the next input; NULL means stdin */
    WALK_ERROR = 2,   /* *path could not be walked; err says why */
};

/* paths: the arguments (borrowed; must outlive the walker). "-" is stdin.
 * opt may be NULL (read everything); it is copied, its arrays borrowed.
 * Returns NULL when out of memory. */
walker *walk_create(const char *const *paths, size_t n, const walk_options *opt);
/* Accepts NULL. */
void walk_free(walker *w);

/*
 * The next input or error. *path stays valid until the next call. An
 * argument "s3://..." is handed out as it is, for the caller to list; a
 * --files-from line that is one (after files_from_base) is one object,
 * pruned and sharded by its key like a listed file (walk_is_object).
 * Returns a walk_status, or -ENOMEM.
 */
int walk_next(walker *w, const char **path, char *err, size_t errlen);
/* 1 when the input walk_next just gave is one s3:// object to fetch, 0 when
 * it is a local path or an s3:// prefix to list. */
int walk_is_object(const walker *w);
/* The part of path a shard is chosen by (walk_shard_of): from its last
 * AWSLogs/ component on, else relative (the path below the argument, or
 * the key below the listed prefix). */
const char *walk_shard_key(const char *path, const char *relative);

walk_counts walk_get_counts(const walker *w);

/*
 * Why a walk that handed out nothing (no input, no error) gave nothing,
 * when a filter (--accounts, --regions, --org-regions, --since/--until)
 * left out folders or files: writes one line naming the filter and what
 * the archive holds at that level, e.g.
 *   --regions US-EAST-1 matched no region folder; seen: eu-west-1, us-east-1
 *   --since 2030-01-01 matched no day folder; the archive's days lie within 2024-03-01 .. 2024-03-04
 * At most 16 names are kept per level, then "and N more" (N counted up to
 * 256). The day range comes from the date folders and file names seen: a
 * year or month folder left out whole widens it to that year or month.
 * A filter that leaves out everything in one place while other folders
 * still give inputs gets no notice: the notice is for runs with no input.
 * Returns 1 when it wrote one, else 0 (inputs were handed out, or nothing
 * was filtered). Call it after walk_next returned WALK_END.
 */
int walk_explain_empty(const walker *w, char *buf, size_t len);

/*
 * 1 and *total when the number of walk_next results that are WALK_INPUT
 * or WALK_ERROR is known: from walk_create for a --files-from list that is
 * a regular file (and no PATH arguments), counted ahead with the same
 * pruning, sharding and exclusion, unless a listed path turns out to be a
 * directory; always after WALK_END. Else 0.
 */
int walk_total(const walker *w, uint64_t *total);

/*
 * The S3 key layout, for pruning:
 *   [prefix/]AWSLogs/[o-orgid/]<account>/CloudTrail/<region>/YYYY/MM/DD/
 *       <account>_CloudTrail_<region>_<YYYYMMDDTHHMMZ>_<16 chars>.json.gz
 * Returns 1 when opt prunes path (a folder when is_dir), else 0. A path
 * that does not follow the layout is never pruned.
 */
int walk_prunes(const walk_options *opt, const char *path, int is_dir);

/* The shard (0..count-1) of a file, from its key: the path from its
 * AWSLogs/ component on (else relative to the argument it was found under),
 * so it is the same on any machine, mount point or listing. */
unsigned walk_shard_of(const char *key, unsigned count);

#endif
