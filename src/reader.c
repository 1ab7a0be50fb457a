#include "reader.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

int reader_read_all(const char *path, uint8_t *buf, size_t bufsize, reader_sink sink, void *arg,
                    uint64_t *fail_offset)
{
    int fd = STDIN_FILENO;
    int rc = 0;
    uint64_t done = 0;
    *fail_offset = 0;
    if (path) {
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return -errno;
#ifdef POSIX_FADV_SEQUENTIAL
        posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
    }
    for (;;) {
        ssize_t n = read(fd, buf, bufsize);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            rc = -errno;
            *fail_offset = done;
            goto out;
        }
        if (n == 0)
            break;
        done += (uint64_t)n;
        rc = sink(arg, buf, (size_t)n);
        if (rc)
            goto out;
    }
out:
    if (path)
        close(fd);
    return rc;
}
