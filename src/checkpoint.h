/*
 * checkpoint: the resume file of --checkpoint and the finished inputs'
 * identities beside it (PATH.inputs). The writer saves it; run_scan loads
 * and checks it before the walk starts.
 */
#ifndef ORGTRAIL_CHECKPOINT_H
#define ORGTRAIL_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "walk.h"

/*
 * Exactly-once resume. A checkpoint says: of the run whose command hashes
 * to fingerprint, the first inputs_done inputs (in walk order) are finished
 * and their findings are the first output_bytes bytes of the output. Which
 * inputs those were is kept beside it, in PATH.inputs: one 64-bit identity
 * (name, size, mtime) a finished input, in walk order; inputs_hash is the
 * hash of the first inputs_done of them, so a resumed run can tell the first
 * input that is not the one the checkpointed run finished. The checkpoint is
 * replaced atomically (write, fsync, rename, fsync the folder), and only
 * after the output and the identities it describes were fsynced. The
 * base-rule matches of those inputs, for correlations, are the first
 * corr_bytes bytes of PATH.corr (or of the --correlation-state file),
 * fsynced with the output.
 */
typedef struct {
    uint64_t fingerprint;
    uint64_t inputs_done;
    uint64_t output_bytes;
    uint64_t inputs_hash;       /* checkpoint_inputs_hash over the first inputs_done identities */
    int complete;               /* the run read every input of its walk */
    uint64_t corr_bytes;        /* of the correlation matches file (PATH.corr, or --correlation-state) */
} checkpoint;

/* Returns 0, -ENOENT when there is none, -EINVAL when it is unreadable (or
 * from an older orgtrail). */
int checkpoint_load(const char *path, checkpoint *cp);
/* Returns 0 or -errno. */
int checkpoint_save(const char *path, const checkpoint *cp);

/* An input's identity: its name, and whether it exists with that size and
 * modification time (a stat now). NULL is stdin, named "<stdin>". Never 0. */
uint64_t checkpoint_input_identity(const char *path);
/* An s3:// object's identity: its URL, and the size and version
 * (s3_lister_version: its ETag) its listing gave. Never 0. */
uint64_t checkpoint_s3_identity(const char *url, uint64_t size, uint64_t version);
/* The running hash of identities, in walk order (start with FNV_OFFSET). */
uint64_t checkpoint_inputs_hash(uint64_t h, uint64_t identity);

/* The identities beside a checkpoint (ckpt_path.inputs), appended as the
 * writer finishes inputs. */
typedef struct checkpoint_inputs checkpoint_inputs;
/* Reads the first n identities into *ids (malloc'd, the caller frees).
 * Returns 0, or -EINVAL when the file holds fewer, -errno. */
int checkpoint_inputs_load(const char *ckpt_path, uint64_t n, uint64_t **ids);
/* Opens the file to go on after its first keep identities (the rest, from
 * a run killed after them, is cut). Returns NULL and sets *err. */
checkpoint_inputs *checkpoint_inputs_open(const char *ckpt_path, uint64_t keep, int *err);
/* Adds one identity (buffered until checkpoint_inputs_sync). Returns 0 or -ENOMEM. */
int checkpoint_inputs_append(checkpoint_inputs *in, uint64_t identity);
/* Writes what was appended and makes it durable. Returns 0 or -errno. */
int checkpoint_inputs_sync(checkpoint_inputs *in);
/* Accepts NULL. */
void checkpoint_inputs_close(checkpoint_inputs *in);

/* A walk result looked at ahead of the run. */
typedef struct {
    int set;
    int status;                 /* from walk_next */
    char *path;                 /* malloc'd; NULL for stdin */
    char err[300];
} checkpoint_pending;

/* The identities of the checkpoint's inputs_done finished inputs, checked
 * against its inputs_hash, into *ids (malloc'd, the caller frees). Returns
 * 0, -EINVAL (said on errout, naming ck) or -errno. */
int checkpoint_resume_ids(const char *ck, const checkpoint *cp, FILE *errout, uint64_t **ids);
/* Say on errout why checkpoint ck does not resume: input i (0-based) is
 * not the one finished there, or the inputs end before input i. */
void checkpoint_say_mismatch(FILE *errout, const char *ck, uint64_t i, const char *path);
void checkpoint_say_ended(FILE *errout, const char *ck, const checkpoint *cp, uint64_t i);
/* Says that checkpoint ck's run had finished and nothing was added. */
void checkpoint_say_complete(FILE *errout, const char *ck, const checkpoint *cp, const char *output);

/*
 * Walks the inputs that the checkpoint says are finished, and checks that
 * each is the one the checkpointed run finished (name, size, mtime). Then,
 * for a run that had finished, looks whether the walk now gives more (a
 * bucket that grew at its end): that input waits in *next (its path the
 * caller frees). *resumed counts the inputs checked. Errors are said on
 * errout, naming ck. Returns 0, 1 when there is nothing left to do, or a
 * negative errno (-EINVAL: the checkpoint does not fit these inputs).
 */
int checkpoint_resume(const char *ck, const checkpoint *cp, walker *w, const char *output, int quiet,
                      FILE *errout, uint64_t *resumed, checkpoint_pending *next);

#endif
