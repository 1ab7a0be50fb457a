#include "cli.h"

#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: orgtrail scan [options] [PATH ...]\n"
    "       orgtrail rules [list] [--rules PATH]... [--no-builtin]\n"
    "       orgtrail rules check PATH...\n"
    "       orgtrail rules test RULES EVENTS...\n"
    "       orgtrail --help | --version\n"
    "\n"
    "Finds AWS Organizations events in CloudTrail logs and prints them as NDJSON findings.\n"
    "PATH is a file, a directory (walked recursively) or - for stdin; no PATH reads stdin.\n"
    "gzip, zstd and plain JSON are told apart by their bytes, in any mix.\n"
    "\n"
    "scan options:\n"
    "  -o FILE            write findings to FILE instead of stdout\n"
    "  --all-org-events   also emit Organizations events no rule matches (rule org.event, info)\n"
    "  --raw              add the event itself to each finding, as \"event\"\n"
    "  --stats            print run counters as one JSON object on stderr at the end\n"
    "  --validate         fully parse every record and report each input's first JSON error\n"
    "  --max-record SIZE  largest record accepted (default 64M; suffixes K, M, G)\n"
    "  -j N               scanning threads (default: one per online CPU)\n"
    "  --io=uring|sync    how files are read (default: io_uring, else synchronous reads)\n"
    "  --io-depth N       files in flight (default 64)\n"
    "  --part-size SIZE   cut a gzip stream on stdin into parts of about SIZE compressed bytes,\n"
    "                     at member boundaries, to decode them in parallel (default 256K, at most 4M;\n"
    "                     0: do not)\n"
    "  -q, --quiet        no notices or progress on stderr (errors are still printed)\n"
    "\n"
    "backfills:\n"
    "  --since T          only records at or after T (RFC 3339, or a date)\n"
    "  --until T          only records before T (a date: up to the end of that day)\n"
    "  --key-slack DUR    slack around the window for file delivery times (default 1h; s, m, h, d)\n"
    "  --accounts A,B     only these account folders of the S3 layout\n"
    "  --regions R,S      only these region folders\n"
    "  --org-regions      only the Organizations home regions (us-east-1, us-gov-west-1, cn-northwest-1)\n"
    "  --files-from FILE  read paths from FILE, one a line ('-': stdin; 'aws s3 ls --recursive' lines too)\n"
    "  --checkpoint FILE  resume exactly where a killed run stopped (needs -o FILE)\n"
    "  --checkpoint-interval SEC  how often the checkpoint is written (default 1; 0: after every input)\n"
    "  --shard I/N        only the inputs whose relative path hashes to shard I of N (0-based)\n"
    "  --shard auto       I and N from JOB_COMPLETION_INDEX (+ --shard-count or ORGTRAIL_SHARD_COUNT)\n"
    "                     or AWS_BATCH_JOB_ARRAY_INDEX and AWS_BATCH_JOB_ARRAY_SIZE\n"
    "  --progress         a progress line on stderr even when it is not a terminal\n"
    "  --no-dedupe        keep findings whose rule and eventID were already emitted\n"
    "\n"
    "rules:\n"
    "  --rules PATH       Sigma rules: a .yml file or a directory of them (repeatable)\n"
    "  --no-builtin       without the built-in Organizations pack\n"
    "\n"
    "exit status: 0 all inputs read, 1 some input was bad (reported on stderr), 2 usage error\n";

const char *cli_usage(void)
{
    return usage;
}

static int parse_size(const char *s, size_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || s[0] == '-')
        return -1;
    unsigned long long mul = 1;
    if (*end == 'K' || *end == 'k')
        mul = 1ULL << 10;
    else if (*end == 'M' || *end == 'm')
        mul = 1ULL << 20;
    else if (*end == 'G' || *end == 'g')
        mul = 1ULL << 30;
    if (mul != 1)
        end++;
    if (*end != '\0' || v == 0 || v > (1ULL << 40) / mul)
        return -1;
    *out = (size_t)(v * mul);
    return 0;
}

static int parse_count(const char *s, unsigned max, unsigned *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || end == s || *end != '\0' || s[0] == '-' || v == 0 || v > max)
        return -1;
    *out = (unsigned)v;
    return 0;
}

static int parse_duration(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || v < 0)
        return -1;
    long long mul = *end == 's' ? 1 : *end == 'm' ? 60 : *end == 'h' ? 3600 : *end == 'd' ? 86400 : 0;
    if (*end == '\0')
        mul = 1;
    else if (mul == 0 || end[1] != '\0')
        return -1;
    *out = v * mul;
    return 0;
}

/* Splits a comma list in place into a NULL-free array. */
static int split_list(char *s, const char ***out, size_t *n)
{
    size_t count = 1;
    for (char *p = s; *p; p++)
        count += *p == ',';
    const char **list = calloc(count, sizeof *list);
    if (!list)
        return -1;
    *n = 0;
    for (char *tok = strtok(s, ","); tok; tok = strtok(NULL, ","))
        list[(*n)++] = tok;
    *out = list;
    return *n > 0 ? 0 : -1;
}

static int usage_error(cli_options *o, const char *fmt, const char *arg)
{
    snprintf(o->error, sizeof o->error, fmt, arg);
    return -1;
}

int cli_parse(int argc, char **argv, cli_options *o)
{
    memset(o, 0, sizeof *o);
    o->max_record = 64u << 20;
    o->part_size = 256u << 10;
    o->io_depth = 64;
    o->key_slack = 3600;
    o->checkpoint_interval = 1.0;
    o->progress = -1;
    if (argc < 2)
        return usage_error(o, "%s", "missing command (try 'orgtrail --help')");
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        o->command = CLI_HELP;
        return 0;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0) {
        o->command = CLI_VERSION;
        return 0;
    }
    o->paths = calloc((size_t)argc, sizeof *o->paths);
    o->rule_paths = calloc((size_t)argc, sizeof *o->rule_paths);
    if (!o->paths || !o->rule_paths)
        return usage_error(o, "%s", "out of memory");
    int first = 2;
    if (strcmp(cmd, "rules") == 0) {
        const char *sub = argc > 2 ? argv[2] : "list";
        o->command = CLI_RULES;
        if (strcmp(sub, "list") == 0 || sub[0] == '-') {
            first = strcmp(sub, "list") == 0 ? 3 : 2;
            for (int i = first; i < argc; i++) {
                if (strcmp(argv[i], "--rules") == 0 && i + 1 < argc)
                    o->rule_paths[o->nrule_paths++] = argv[++i];
                else if (strcmp(argv[i], "--no-builtin") == 0)
                    o->no_builtin = 1;
                else
                    return usage_error(o, "unexpected argument '%s' to 'rules list'", argv[i]);
            }
            return 0;
        }
        if (strcmp(sub, "check") == 0) {
            o->command = CLI_RULES_CHECK;
            for (int i = 3; i < argc; i++)
                o->rule_paths[o->nrule_paths++] = argv[i];
            return o->nrule_paths ? 0 : usage_error(o, "%s", "rules check needs a PATH");
        }
        if (strcmp(sub, "test") == 0) {
            if (argc < 5)
                return usage_error(o, "%s", "rules test needs RULES and EVENTS");
            o->command = CLI_RULES_TEST;
            o->rule_paths[o->nrule_paths++] = argv[3];
            o->no_builtin = 1;
            for (int i = 4; i < argc; i++)
                o->paths[o->npaths++] = argv[i];
            return 0;
        }
        return usage_error(o, "unknown 'rules %s' (list, check or test)", sub);
    }
    if (strcmp(cmd, "scan") != 0)
        return usage_error(o, "unknown command '%s' (try 'orgtrail --help')", cmd);
    o->command = CLI_SCAN;

    int only_paths = 0;
    for (int i = first; i < argc; i++) {
        const char *a = argv[i];
        if (only_paths || a[0] != '-' || strcmp(a, "-") == 0) {
            o->paths[o->npaths++] = a;
        } else if (strcmp(a, "--") == 0) {
            only_paths = 1;
        } else if (strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) {
            if (++i == argc)
                return usage_error(o, "%s needs a FILE", a);
            o->output = argv[i];
        } else if (strcmp(a, "--all-org-events") == 0) {
            o->all_org_events = 1;
        } else if (strcmp(a, "--raw") == 0) {
            o->raw = 1;
        } else if (strcmp(a, "--stats") == 0) {
            o->stats = 1;
        } else if (strcmp(a, "--validate") == 0) {
            o->validate = 1;
        } else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
            o->quiet = 1;
            o->progress = 0;
        } else if (strcmp(a, "--max-record") == 0) {
            if (++i == argc)
                return usage_error(o, "%s needs a SIZE", a);
            if (parse_size(argv[i], &o->max_record))
                return usage_error(o, "bad --max-record '%s' (want e.g. 64M)", argv[i]);
        } else if (strcmp(a, "--part-size") == 0) {
            if (++i == argc)
                return usage_error(o, "%s needs a SIZE", a);
            if (strcmp(argv[i], "0") == 0)
                o->part_size = 0;
            else if (parse_size(argv[i], &o->part_size) || o->part_size > (4u << 20))
                return usage_error(o, "bad --part-size '%s' (want up to 4M, or 0)", argv[i]);
        } else if (strcmp(a, "-j") == 0 || strncmp(a, "-j", 2) == 0) {
            const char *v = a[2] ? a + 2 : (i + 1 < argc ? argv[++i] : NULL);
            if (!v || parse_count(v, 1024, &o->workers))
                return usage_error(o, "bad -j '%s' (want 1..1024)", v ? v : "");
        } else if (strcmp(a, "--io-depth") == 0) {
            if (++i == argc || parse_count(argv[i], 4096, &o->io_depth))
                return usage_error(o, "bad --io-depth '%s' (want 1..4096)", i < argc ? argv[i] : "");
        } else if (strncmp(a, "--io=", 5) == 0 || strcmp(a, "--io") == 0) {
            const char *v = a[4] == '=' ? a + 5 : (i + 1 < argc ? argv[++i] : "");
            if (strcmp(v, "uring") == 0)
                o->io = 1;
            else if (strcmp(v, "sync") == 0)
                o->io = 2;
            else
                return usage_error(o, "bad --io '%s' (want uring or sync)", v);
        } else if (strcmp(a, "--since") == 0 || strcmp(a, "--until") == 0) {
            int since = a[2] == 's';
            int64_t t;
            int date_only;
            if (++i == argc || parse_time(argv[i], strlen(argv[i]), &t, &date_only))
                return usage_error(o, "bad %s (want RFC 3339, e.g. 2024-03-01T00:00:00Z, or a date)", a);
            if (since) {
                o->has_since = 1;
                o->since = t;
            } else {
                o->has_until = 1;
                o->until = date_only ? t + 86400 : t;
            }
        } else if (strcmp(a, "--key-slack") == 0) {
            if (++i == argc || parse_duration(argv[i], &o->key_slack))
                return usage_error(o, "bad --key-slack '%s' (want e.g. 1h, 30m, 90s)", i < argc ? argv[i] : "");
        } else if (strcmp(a, "--accounts") == 0 || strcmp(a, "--regions") == 0) {
            int accounts = a[2] == 'a';
            free(accounts ? o->accounts : o->regions);
            if (++i == argc || split_list(argv[i], accounts ? &o->accounts : &o->regions,
                                          accounts ? &o->naccounts : &o->nregions))
                return usage_error(o, "%s needs a comma-separated list", a);
        } else if (strcmp(a, "--org-regions") == 0) {
            o->org_regions = 1;
        } else if (strcmp(a, "--files-from") == 0) {
            if (++i == argc)
                return usage_error(o, "%s needs a FILE", a);
            o->files_from = argv[i];
        } else if (strcmp(a, "--checkpoint") == 0) {
            if (++i == argc)
                return usage_error(o, "%s needs a FILE", a);
            o->checkpoint = argv[i];
        } else if (strcmp(a, "--checkpoint-interval") == 0) {
            char *end;
            if (++i == argc || (o->checkpoint_interval = strtod(argv[i], &end), end == argv[i] || *end) ||
                o->checkpoint_interval < 0)
                return usage_error(o, "bad --checkpoint-interval '%s' (want seconds)", i < argc ? argv[i] : "");
        } else if (strcmp(a, "--shard") == 0) {
            if (++i == argc)
                return usage_error(o, "%s needs I/N or auto", a);
            unsigned si, sn;
            char extra;
            if (strcmp(argv[i], "auto") == 0)
                o->shard_auto = 1;
            else if (sscanf(argv[i], "%u/%u%c", &si, &sn, &extra) == 2 && sn > 0 && si < sn) {
                o->shard_index = si;
                o->shard_count = sn;
            } else
                return usage_error(o, "bad --shard '%s' (want I/N with 0 <= I < N, or auto)", argv[i]);
        } else if (strcmp(a, "--shard-count") == 0) {
            if (++i == argc || parse_count(argv[i], 1u << 30, &o->shard_count_opt))
                return usage_error(o, "bad --shard-count '%s'", i < argc ? argv[i] : "");
        } else if (strcmp(a, "--progress") == 0) {
            o->progress = 1;
        } else if (strcmp(a, "--no-dedupe") == 0) {
            o->no_dedupe = 1;
        } else if (strcmp(a, "--rules") == 0) {
            if (++i == argc)
                return usage_error(o, "%s needs a PATH", a);
            o->rule_paths[o->nrule_paths++] = argv[i];
        } else if (strcmp(a, "--no-builtin") == 0) {
            o->no_builtin = 1;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            o->command = CLI_HELP;
            return 0;
        } else {
            return usage_error(o, "unknown option '%s' (try 'orgtrail --help')", a);
        }
    }
    if (o->no_builtin && o->nrule_paths == 0)
        return usage_error(o, "%s", "--no-builtin leaves no rules: add --rules PATH");
    if (o->checkpoint && !o->output)
        return usage_error(o, "%s", "--checkpoint needs -o FILE: the output is what gets resumed");
    if (o->has_since && o->has_until && o->until <= o->since)
        return usage_error(o, "%s", "--until must be after --since");
    int reads_stdin = o->npaths == 0 && !o->files_from;
    for (size_t i = 0; i < o->npaths; i++)
        reads_stdin |= strcmp(o->paths[i], "-") == 0;
    if ((o->shard_count || o->shard_auto) && reads_stdin)
        return usage_error(o, "%s", "--shard selects files by path; a stream on stdin cannot be sharded");
    if (o->files_from && strcmp(o->files_from, "-") == 0 && reads_stdin && o->npaths > 0)
        return usage_error(o, "%s", "--files-from - and a - input would both read stdin");
    return 0;
}

void cli_free(cli_options *o)
{
    free(o->paths);
    free(o->rule_paths);
    free(o->accounts);
    free(o->regions);
    o->paths = o->rule_paths = NULL;
    o->accounts = o->regions = NULL;
}
