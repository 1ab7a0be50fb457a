#include "checkpoint.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"
#include "walk.h"

#define CHECKPOINT_FORMAT "orgtrail-checkpoint v3 fingerprint=%llx inputs_done=%llu output_bytes=%llu " \
                          "inputs_hash=%llx complete=%d corr_bytes=%llu"

int checkpoint_load(const char *path, checkpoint *cp)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return errno == ENOENT ? -ENOENT : -errno;
    unsigned long long fp, done, bytes, ih, corr;
    int complete;
    int n = fscanf(f, CHECKPOINT_FORMAT, &fp, &done, &bytes, &ih, &complete, &corr);
    fclose(f);
    if (n != 6 || (complete != 0 && complete != 1))
        return -EINVAL;
    cp->fingerprint = fp;
    cp->inputs_done = done;
    cp->output_bytes = bytes;
    cp->inputs_hash = ih;
    cp->complete = complete;
    cp->corr_bytes = corr;
    return 0;
}

/* Makes a rename in path's folder durable. */
static void sync_parent(const char *path)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *(slash == dir ? slash + 1 : slash) = '\0';
    int dfd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
}

int checkpoint_save(const char *path, const checkpoint *cp)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return -ENAMETOOLONG;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    char line[256];
    int n = snprintf(line, sizeof line, CHECKPOINT_FORMAT "\n", (unsigned long long)cp->fingerprint,
                     (unsigned long long)cp->inputs_done, (unsigned long long)cp->output_bytes,
                     (unsigned long long)cp->inputs_hash, cp->complete ? 1 : 0,
                     (unsigned long long)cp->corr_bytes);
    int rc = 0;
    if (write(fd, line, (size_t)n) != n || fsync(fd) != 0)
        rc = errno ? -errno : -EIO;
    if (close(fd) != 0 && !rc)
        rc = -errno;
    if (!rc && rename(tmp, path) != 0)
        rc = -errno;
    if (rc)
        return rc;
    sync_parent(path);     /* the rename itself must survive a power loss */
    return 0;
}

static uint64_t identity_hash(const char *name, int exists, uint64_t size, int64_t mtime_ns)
{
    uint64_t h = hash_bytes(FNV_OFFSET, name, strlen(name) + 1);
    uint64_t meta[3] = { (uint64_t)exists, exists ? size : 0, exists ? (uint64_t)mtime_ns : 0 };
    h = hash_bytes(h, meta, sizeof meta);
    return h ? h : 1;
}

uint64_t checkpoint_input_identity(const char *path)
{
    struct stat st;
    if (!path || stat(path, &st) != 0)
        return identity_hash(path ? path : "<stdin>", 0, 0, 0);
    return identity_hash(path, 1, (uint64_t)st.st_size, (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec);
}

uint64_t checkpoint_inputs_hash(uint64_t h, uint64_t identity)
{
    return hash_bytes(h, &identity, sizeof identity);
}

struct checkpoint_inputs {
    int fd;
    ot_buf pending;       /* identities appended since the last sync */
};

static int inputs_path(const char *ckpt_path, char *out, size_t len)
{
    return snprintf(out, len, "%s.inputs", ckpt_path) >= (int)len ? -ENAMETOOLONG : 0;
}

int checkpoint_inputs_load(const char *ckpt_path, uint64_t n, uint64_t **ids)
{
    char path[4096];
    int rc = inputs_path(ckpt_path, path, sizeof path);
    if (rc)
        return rc;
    *ids = NULL;
    if (n > SIZE_MAX / sizeof **ids)
        return -EINVAL;
    uint64_t *v = malloc(n ? n * sizeof *v : 1);
    if (!v)
        return -ENOMEM;
    FILE *f = fopen(path, "rb");
    if (!f) {
        rc = errno == ENOENT ? -EINVAL : -errno;
    } else {
        if (fread(v, sizeof *v, n, f) != n)
            rc = -EINVAL;
        fclose(f);
    }
    if (rc) {
        free(v);
        return rc;
    }
    *ids = v;
    return 0;
}

checkpoint_inputs *checkpoint_inputs_open(const char *ckpt_path, uint64_t keep, int *err)
{
    char path[4096];
    checkpoint_inputs *in = calloc(1, sizeof *in);
    if (!in) {
        *err = -ENOMEM;
        return NULL;
    }
    in->fd = -1;
    int rc = inputs_path(ckpt_path, path, sizeof path);
    off_t end = (off_t)(keep * sizeof(uint64_t));
    if (!rc) {
        in->fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        if (in->fd < 0 || ftruncate(in->fd, end) != 0 || lseek(in->fd, end, SEEK_SET) < 0)
            rc = -errno;
    }
    if (rc) {
        if (in->fd >= 0)
            close(in->fd);
        free(in);
        *err = rc;
        return NULL;
    }
    return in;
}

int checkpoint_inputs_append(checkpoint_inputs *in, uint64_t identity)
{
    return buf_append(&in->pending, &identity, sizeof identity);
}

int checkpoint_inputs_sync(checkpoint_inputs *in)
{
    const char *p = in->pending.data;
    size_t left = in->pending.len;
    while (left > 0) {
        ssize_t n = write(in->fd, p, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        p += n;
        left -= (size_t)n;
    }
    in->pending.len = 0;
    return fsync(in->fd) == 0 ? 0 : -errno;
}

void checkpoint_inputs_close(checkpoint_inputs *in)
{
    if (!in)
        return;
    close(in->fd);
    buf_free(&in->pending);
    free(in);
}

uint64_t checkpoint_s3_identity(const char *url, uint64_t size, uint64_t version)
{
    return identity_hash(url, 1, size, (int64_t)version);
}

int checkpoint_resume_ids(const char *ck, const checkpoint *cp, FILE *errout, uint64_t **ids)
{
    uint64_t h = FNV_OFFSET;
    int rc = checkpoint_inputs_load(ck, cp->inputs_done, ids);
    if (rc == 0) {
        for (uint64_t i = 0; i < cp->inputs_done; i++)
            h = checkpoint_inputs_hash(h, (*ids)[i]);
        if (h != cp->inputs_hash) {
            free(*ids);
            *ids = NULL;
            rc = -EINVAL;
        }
    }
    if (rc == -EINVAL)
        ot_say(errout, "orgtrail: %s.inputs: missing, or not the inputs this checkpoint finished; "
                       "remove the checkpoint to start over\n", ck);
    return rc;
}

void checkpoint_say_ended(FILE *errout, const char *ck, const checkpoint *cp, uint64_t i)
{
    ot_say(errout, "orgtrail: %s: the inputs now end after %llu of the %llu that the checkpointed run "
                   "finished (inputs were removed); remove the checkpoint to start over\n",
           ck, (unsigned long long)i, (unsigned long long)cp->inputs_done);
}

void checkpoint_say_mismatch(FILE *errout, const char *ck, uint64_t i, const char *path)
{
    ot_say(errout, "orgtrail: %s: input %llu, %s, is not the one the checkpointed run finished there "
                   "(an input was added, removed or changed at or before it); remove the checkpoint "
                   "to start over\n", ck, (unsigned long long)i + 1, path ? path : "<stdin>");
}

void checkpoint_say_complete(FILE *errout, const char *ck, const checkpoint *cp, const char *output)
{
    ot_say(errout, "orgtrail: %s: already complete (%llu inputs, %llu bytes of findings in %s); "
                   "nothing to do\n", ck, (unsigned long long)cp->inputs_done,
           (unsigned long long)cp->output_bytes, output);
}

int checkpoint_resume(const char *ck, const checkpoint *cp, walker *w, const char *output, int quiet,
                      FILE *errout, uint64_t *resumed, checkpoint_pending *next)
{
    uint64_t *ids;
    int rc = checkpoint_resume_ids(ck, cp, errout, &ids);
    if (rc)
        return rc;
    const char *path;
    char err[300];
    for (uint64_t i = 0; i < cp->inputs_done && rc == 0; i++) {
        int st = walk_next(w, &path, err, sizeof err);
        if (st < 0) {
            rc = st;
        } else if (st == WALK_END) {
            checkpoint_say_ended(errout, ck, cp, i);
            rc = -EINVAL;
        } else if (checkpoint_input_identity(path) != ids[i]) {
            checkpoint_say_mismatch(errout, ck, i, path);
            rc = -EINVAL;
        } else {
            (*resumed)++;
        }
    }
    free(ids);
    if (rc || !cp->complete)
        return rc;
    int st = walk_next(w, &path, err, sizeof err);
    if (st < 0)
        return st;
    if (st == WALK_END) {
        if (!quiet)
            checkpoint_say_complete(errout, ck, cp, output);
        return 1;
    }
    next->set = 1;
    next->status = st;
    next->path = path ? strdup(path) : NULL;
    snprintf(next->err, sizeof next->err, "%s", err);
    return path && !next->path ? -ENOMEM : 0;
}
