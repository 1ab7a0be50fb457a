/*
 * The system-call floor: open, read to the end, close every file named on
 * stdin, doing nothing with the bytes. Prints "files bytes seconds".
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(void)
{
    static uint8_t buf[1 << 18];
    char path[4096];
    uint64_t files = 0, bytes = 0;
    double t0 = now();
    while (fgets(path, sizeof path, stdin)) {
        path[strcspn(path, "\n")] = '\0';
        int fd = open(path, O_RDONLY);
        if (fd < 0) {
            perror(path);
            return 1;
        }
        ssize_t n;
        while ((n = read(fd, buf, sizeof buf)) > 0)
            bytes += (uint64_t)n;
        close(fd);
        files++;
    }
    printf("%llu %llu %.6f\n", (unsigned long long)files, (unsigned long long)bytes, now() - t0);
    return 0;
}
