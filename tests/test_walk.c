/* walk: a shared log bucket's other services, the run's own files, why a
 * filtered walk is empty, and the input count known ahead. On real folders
 * in a temporary directory. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "walk.h"

static char root[256];

/* Creates root/rel, and its folders. */
static void touch(const char *rel)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    for (char *s = p + strlen(root) + 1; (s = strchr(s, '/')) != NULL; s++) {
        *s = '\0';
        mkdir(p, 0755);
        *s = '/';
    }
    FILE *f = fopen(p, "w");
    CHECK(f != NULL);
    if (f) {
        fputs("{}", f);
        fclose(f);
    }
}

static void rm_tree(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    CHECK(system(cmd) == 0);
}

/* Walks to the end; the inputs, relative to root, one a line, in out. */
typedef struct {
    char list[2048];
    int errors;
    walk_counts counts;
    char explain[256];
    int explained;
    uint64_t total;
    int total_known;
} walked;

static walked walk_all(walker *w)
{
    walked r = { 0 };
    size_t at = 0;
    const char *path;
    char err[256];
    int rc;
    while ((rc = walk_next(w, &path, err, sizeof err)) == WALK_INPUT || rc == WALK_ERROR) {
        if (rc == WALK_ERROR) {
            r.errors++;
            continue;
        }
        const char *rel = strncmp(path, root, strlen(root)) == 0 ? path + strlen(root) + 1 : path;
        at += (size_t)snprintf(r.list + at, sizeof r.list - at, "%s\n", rel);
    }
    CHECK(rc == WALK_END);
    r.counts = walk_get_counts(w);
    r.explained = walk_explain_empty(w, r.explain, sizeof r.explain);
    r.total_known = walk_total(w, &r.total);
    return r;
}

static walked walk_root(const walk_options *opt)
{
    const char *args[] = { root };
    walker *w = walk_create(args, 1, opt);
    walked r = walk_all(w);
    walk_free(w);
    return r;
}

/* The files of a shared log bucket: CloudTrail's, and other services'. */
static const char *const bucket[] = {
    "AWSLogs/111111111111/CloudTrail/us-east-1/2024/03/01/111111111111_CloudTrail_us-east-1_20240301T0000Z_a.json.gz",
    "AWSLogs/111111111111/CloudTrail/eu-west-1/2024/03/04/111111111111_CloudTrail_eu-west-1_20240304T0000Z_b.json.gz",
    "AWSLogs/111111111111/CloudTrail-Digest/us-east-1/2024/03/01/d.json.gz",
    "AWSLogs/111111111111/Config/ConfigWritabilityCheckFile",
    "AWSLogs/111111111111/Config/us-east-1/2024/3/1/ConfigSnapshot/x.json.gz",
    "AWSLogs/111111111111/vpcflowlogs/us-east-1/2024/03/01/f.log.gz",
    "AWSLogs/111111111111/ELBAccessLogTestFile",
    "AWSLogs/ConfigWritabilityCheckFile",
    "AWSLogs/o-abc123/222222222222/elasticloadbalancing/us-east-1/e.log.gz",
    "AWSLogs/o-abc123/222222222222/CloudTrail/us-east-1/2024/03/02/222222222222_CloudTrail_us-east-1_20240302T0000Z_c.json.gz",
    "AWSLogs/o-abc123/aws-account-id=222222222222/aws-service=vpcflowlogs/x.log.gz",
    "other/notes.json",
};
#define NBUCKET (sizeof bucket / sizeof bucket[0])

static const char *const bucket_inputs =
    "AWSLogs/111111111111/CloudTrail/eu-west-1/2024/03/04/111111111111_CloudTrail_eu-west-1_20240304T0000Z_b.json.gz\n"
    "AWSLogs/111111111111/CloudTrail/us-east-1/2024/03/01/111111111111_CloudTrail_us-east-1_20240301T0000Z_a.json.gz\n"
    "AWSLogs/o-abc123/222222222222/CloudTrail/us-east-1/2024/03/02/222222222222_CloudTrail_us-east-1_20240302T0000Z_c.json.gz\n"
    "other/notes.json\n";

static void make_bucket(void)
{
    for (size_t i = 0; i < NBUCKET; i++)
        touch(bucket[i]);
}

/* Writes the list file root/../name (outside the tree) of the given paths. */
static void write_list(const char *list, const char *const *rel, size_t n)
{
    FILE *f = fopen(list, "w");
    CHECK(f != NULL);
    for (size_t i = 0; f && i < n; i++)
        fprintf(f, "%s/%s\n", root, rel[i]);
    if (f)
        fclose(f);
}

static void test_shared_bucket_other_services_skipped(void)
{
    check_context = "directory walk";
    make_bucket();
    walked r = walk_root(NULL);
    CHECK(strcmp(r.list, bucket_inputs) == 0);
    if (check_printed)
        fprintf(stderr, "got:\n%s", r.list);
    CHECK(r.errors == 0);
    CHECK(r.counts.skipped_digest == 1);
    /* AWSLogs/ConfigWritabilityCheckFile, AWSLogs/<account>/ELBAccessLogTestFile */
    CHECK(r.counts.skipped_other_files == 2);
    /* Config/, vpcflowlogs/, elasticloadbalancing/, aws-account-id=... */
    CHECK(r.counts.skipped_other_dirs == 4);

    /* --files-from: the key of each listed path decides */
    check_context = "files-from";
    char list[300];
    snprintf(list, sizeof list, "%s.list", root);
    write_list(list, bucket, NBUCKET);
    walk_options opt = { .files_from = list };
    walker *w = walk_create(NULL, 0, &opt);
    uint64_t ahead = 0;
    CHECK(walk_total(w, &ahead) == 1);
    CHECK(ahead == 4);
    r = walk_all(w);
    walk_free(w);
    CHECK(r.errors == 0);
    CHECK(r.counts.skipped_digest == 1);
    CHECK(r.counts.skipped_other_files == 7);   /* every other-service file listed */
    CHECK(r.counts.skipped_other_dirs == 0);
    CHECK(r.total_known && r.total == 4);
    unlink(list);
    rm_tree();
    mkdir(root, 0755);
    check_context = "";
}

/* The run's own output and checkpoint under the scanned folder: the output
 * exists, the checkpoint is written (by rename from .tmp) only after
 * walk_create, and the exclusion spells the folder another way. */
static void test_own_output_and_checkpoint_not_scanned(void)
{
    touch("a.json");
    touch("out/findings.ndjson");
    touch("out/keep.json");
    char out[300], ck[300], tmp[300];
    snprintf(out, sizeof out, "%s/out/findings.ndjson", root);
    snprintf(ck, sizeof ck, "%s/./out/../out/ck", root);
    snprintf(tmp, sizeof tmp, "%s/out/ck.tmp", root);
    const char *excl[] = { out, ck, tmp, "/nonexistent-folder/x" };
    walk_options opt = { .exclude = excl, .nexclude = 4 };
    const char *args[] = { root };
    walker *w = walk_create(args, 1, &opt);
    touch("out/ck.tmp");
    char from[300], to[300];
    snprintf(from, sizeof from, "%s/out/ck.tmp", root);
    snprintf(to, sizeof to, "%s/out/ck", root);
    CHECK(rename(from, to) == 0);
    touch("out/ck.tmp");
    walked r = walk_all(w);
    walk_free(w);
    CHECK(strcmp(r.list, "a.json\nout/keep.json\n") == 0);
    if (check_printed)
        fprintf(stderr, "got:\n%s", r.list);
    CHECK(r.counts.skipped_own_files == 3);

    /* listed, and as arguments */
    check_context = "files-from";
    char list[300];
    snprintf(list, sizeof list, "%s.list", root);
    const char *rel[] = { "a.json", "out/findings.ndjson", "out/ck", "out/ck.tmp" };
    write_list(list, rel, 4);
    opt.files_from = list;
    w = walk_create(NULL, 0, &opt);
    uint64_t ahead = 0;
    CHECK(walk_total(w, &ahead) == 1 && ahead == 1);
    r = walk_all(w);
    walk_free(w);
    CHECK(strcmp(r.list, "a.json\n") == 0);
    CHECK(r.counts.skipped_own_files == 3);
    unlink(list);
    check_context = "";
    rm_tree();
    mkdir(root, 0755);
}

static void expect_explain(const walked *r, const char *want)
{
    CHECK(r->explained == 1 && strcmp(r->explain, want) == 0);
    if (check_printed)
        fprintf(stderr, "got: %s\n", r->explain);
}

static void test_filter_matching_nothing_explains(void)
{
    make_bucket();
    const char *upper[] = { "US-EAST-1" };
    walk_options opt = { .regions = upper, .nregions = 1 };
    walked r = walk_root(&opt);
    CHECK(strcmp(r.list, "other/notes.json\n") == 0);
    CHECK(r.explained == 0);              /* a path outside the layout was an input */
    rm_tree();
    mkdir(root, 0755);
    for (size_t i = 0; i < 2; i++)
        touch(bucket[i]);
    touch(bucket[9]);

    check_context = "regions";
    r = walk_root(&opt);
    CHECK(r.list[0] == '\0');
    expect_explain(&r, "--regions US-EAST-1 matched no region folder; seen: eu-west-1, us-east-1");

    check_context = "org regions";
    opt = (walk_options){ .org_regions = 1 };
    r = walk_root(&opt);
    CHECK(r.explained == 0);              /* us-east-1 is one: inputs */

    check_context = "accounts";
    const char *typo[] = { "11111111111", "333" };
    opt = (walk_options){ .accounts = typo, .naccounts = 2 };
    r = walk_root(&opt);
    expect_explain(&r, "--accounts 11111111111,333 matched no account folder; seen: 111111111111, 222222222222");

    check_context = "since";
    opt = (walk_options){ .has_since = 1, .since = 1893456000 /* 2030-01-01 */ };
    r = walk_root(&opt);
    expect_explain(&r, "--since 2030-01-01 matched no day folder; the archive's days lie within 2024-01-01 .. 2024-12-31");

    /* files listed: the day range comes from their names */
    check_context = "until, listed";
    char list[300];
    snprintf(list, sizeof list, "%s.list", root);
    const char *rel[] = { bucket[0], bucket[1], bucket[9] };
    write_list(list, rel, 3);
    opt = (walk_options){ .has_until = 1, .until = 1704067200 /* 2024-01-01 */, .files_from = list };
    walker *w = walk_create(NULL, 0, &opt);
    r = walk_all(w);
    walk_free(w);
    expect_explain(&r, "--until 2023-12-31 matched no day folder; the archive's days lie within 2024-03-01 .. 2024-03-04");
    unlink(list);

    /* many distinct names: a few, then how many more */
    check_context = "many regions";
    rm_tree();
    mkdir(root, 0755);
    for (int i = 0; i < 20; i++) {
        char p[128];
        snprintf(p, sizeof p, "AWSLogs/1/CloudTrail/r-%02d/x.json", i);
        touch(p);
    }
    opt = (walk_options){ .regions = upper, .nregions = 1 };
    r = walk_root(&opt);
    CHECK(r.explained == 1);
    CHECK(strstr(r.explain, "seen: r-00, r-01,") != NULL);
    CHECK(strstr(r.explain, "r-15 and 4 more") != NULL);
    if (check_printed)
        fprintf(stderr, "got: %s\n", r.explain);

    /* a short buffer: truncated, still one line */
    walker *w2 = walk_create((const char *const[]){ root }, 1, &opt);
    r = walk_all(w2);
    char small[20];
    CHECK(walk_explain_empty(w2, small, sizeof small) == 1 && strlen(small) == sizeof small - 1);
    walk_free(w2);
    check_context = "";
    rm_tree();
    mkdir(root, 0755);
}

static void test_total_known_ahead(void)
{
    make_bucket();
    char list[300];
    snprintf(list, sizeof list, "%s.list", root);
    write_list(list, bucket, NBUCKET);

    /* pruned, sharded: the count ahead is what the walk then gives */
    for (unsigned shard = 0; shard < 3; shard++) {
        const char *regions[] = { "us-east-1" };
        walk_options opt = { .files_from = list, .regions = regions, .nregions = 1,
                             .shard_index = shard, .shard_count = 3 };
        walker *w = walk_create(NULL, 0, &opt);
        uint64_t ahead = 0;
        CHECK(walk_total(w, &ahead) == 1);
        walked r = walk_all(w);
        walk_free(w);
        size_t lines = 0;
        for (const char *p = r.list; *p; p++)
            lines += *p == '\n';
        CHECK(ahead == lines);
        CHECK(r.total_known && r.total == lines);
    }

    /* a missing listed file is an error the count includes */
    FILE *f = fopen(list, "a");
    fprintf(f, "%s/missing.json\n\n", root);
    fclose(f);
    walk_options opt = { .files_from = list };
    walker *w = walk_create(NULL, 0, &opt);
    uint64_t ahead = 0;
    CHECK(walk_total(w, &ahead) == 1 && ahead == 5);
    walked r = walk_all(w);
    walk_free(w);
    CHECK(r.errors == 1 && r.total == 5);

    /* a listed folder: unknown until the end */
    f = fopen(list, "a");
    fprintf(f, "%s/other\n", root);
    fclose(f);
    w = walk_create(NULL, 0, &opt);
    CHECK(walk_total(w, &ahead) == 1);
    const char *path;
    char err[256];
    int rc;
    while ((rc = walk_next(w, &path, err, sizeof err)) == WALK_INPUT || rc == WALK_ERROR)
        ;
    CHECK(walk_total(w, &ahead) == 1 && ahead == 6);
    walk_free(w);

    /* a directory walk, stdin: only at the end */
    w = walk_create((const char *const[]){ root }, 1, NULL);
    CHECK(walk_total(w, &ahead) == 0);
    r = walk_all(w);
    CHECK(r.total_known && r.total == 4);
    walk_free(w);
    opt = (walk_options){ .files_from = "-" };
    w = walk_create(NULL, 0, &opt);
    CHECK(walk_total(w, &ahead) == 0);
    walk_free(w);
    unlink(list);
    rm_tree();
    mkdir(root, 0755);
}

int main(void)
{
    snprintf(root, sizeof root, "%s/test_walk.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(root)) {
        perror("mkdtemp");
        return 1;
    }
    test_shared_bucket_other_services_skipped();
    test_own_output_and_checkpoint_not_scanned();
    test_filter_matching_nothing_explains();
    test_total_known_ahead();
    rmdir(root);
    return check_summary();
}
