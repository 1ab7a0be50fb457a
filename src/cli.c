#include "cli.h"

#include "util.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define USAGE_LINES \
    "usage: orgtrail scan [options] [PATH ...]\n" \
    "       orgtrail rules [list] [--rules PATH]... [--no-builtin]\n" \
    "       orgtrail rules check PATH...\n" \
    "       orgtrail rules test RULES EVENTS...\n" \
    "       orgtrail summary [--json] [FILE ...]\n" \
    "       orgtrail report [-o FILE] [FILE ...]\n" \
    "       orgtrail correlate --rules PATH [options] STATE...\n" \
    "       orgtrail verify [--public-keys FILE] [--signatures FILE] [options] PATH...\n" \
    "       orgtrail --help | --version\n"

#define SCAN_TEXT \
    "Finds AWS Organizations events in CloudTrail logs and prints them as NDJSON findings.\n" \
    "PATH is a file, a directory (walked recursively), s3://bucket[/prefix] (listed and read over\n" \
    "HTTPS with the AWS credential chain) or - for stdin; no PATH reads stdin.\n" \
    "gzip, zstd and plain JSON are told apart by their bytes, in any mix.\n" \
    "Options may come before or after PATHs; -- ends them; --opt=value works for every value.\n" \
    "\n" \
    "scan options:\n" \
    "  -o FILE            write findings to FILE instead of stdout ('-': stdout)\n" \
    "  --all-org-events   also emit Organizations events no rule matches (rule org.event, info)\n" \
    "  --raw              add the event itself to each finding, as \"event\" (OCSF: raw_data)\n" \
    "  --format F         ndjson (orgtrail's findings), ocsf (OCSF 1.1.0 Detection Findings) or table\n" \
    "                     (one line a finding, for people); default: table when stdout is a terminal,\n" \
    "                     else ndjson\n" \
    "  --color=WHEN       colour the table's severities: auto (a terminal, unless NO_COLOR is set),\n" \
    "                     always or never\n" \
    "  --summary          print a summary of the findings on stderr at the end (see orgtrail summary)\n" \
    "  --min-severity L   only findings of severity L or above: info, low, medium, high, critical\n" \
    "  --stats            print run counters as one JSON object on stderr at the end\n" \
    "  --stats-file FILE  write that object to FILE instead (with --stats: to both)\n" \
    "  --validate         fully parse every record and report each input's first JSON error\n" \
    "  --max-record SIZE  largest record accepted (default 64M; suffixes K, M, G)\n" \
    "  -j N               scanning threads (default: one per CPU the process may use)\n" \
    "  --io=uring|sync    how files are read (default: io_uring, else synchronous reads)\n" \
    "  --io-depth N       files in flight (default 64)\n" \
    "  --s3-concurrency N s3:// objects in flight (default 128)\n" \
    "  --endpoint-url URL an S3-compatible store for s3:// inputs, path-style (default:\n" \
    "                     AWS_ENDPOINT_URL_S3, else AWS_ENDPOINT_URL, else AWS's)\n" \
    "  --part-size SIZE   cut a gzip stream on stdin into parts of about SIZE compressed bytes,\n" \
    "                     at member boundaries, to decode them in parallel (default 256K, at most 4M;\n" \
    "                     0: do not)\n" \
    "  -q, --quiet        no notices or progress on stderr (errors are still printed)\n" \
    "  --progress         progress on stderr even when it is not a terminal (plain lines)\n" \
    "  --no-progress      no progress line, even on a terminal\n" \
    "\n" \
    "backfills:\n" \
    "  --since T          only records at or after T: RFC 3339, a date, or a duration back\n" \
    "                     from now (7d, 36h, 30m, 90s, 2w; UTC)\n" \
    "  --until T          only records before T (a date: up to the end of that day; a duration: exact)\n" \
    "  --key-slack DUR    slack around the window for file delivery times (default 1h; s, m, h, d)\n" \
    "  --accounts A,B     only these account folders of the S3 layout\n" \
    "  --regions R,S      only these region folders\n" \
    "  --org-regions      only the Organizations home regions (us-east-1, us-gov-west-1, cn-northwest-1)\n" \
    "  --files-from FILE  read paths from FILE, one a line ('-': stdin; 'aws s3 ls --recursive' lines too;\n" \
    "                     s3://bucket/key lines are objects, fetched directly)\n" \
    "  --files-from-base B  put B before each listed path: s3://bucket/ for 'aws s3 ls --recursive' lines\n" \
    "  --checkpoint FILE  resume exactly where a killed run stopped (needs -o FILE; not with stdin)\n" \
    "  --checkpoint-interval SEC  how often the checkpoint is written (default 1; 0: after every input;\n" \
    "                     needs --checkpoint)\n" \
    "  --shard I/N        only the inputs whose relative path hashes to shard I of N (0-based)\n" \
    "  --shard auto       I and N from JOB_COMPLETION_INDEX (+ --shard-count or ORGTRAIL_SHARD_COUNT)\n" \
    "                     or AWS_BATCH_JOB_ARRAY_INDEX and AWS_BATCH_JOB_ARRAY_SIZE\n" \
    "  --shard-count N    N for --shard auto (needs it)\n" \
    "  --no-dedupe        keep every copy of a finding (by default one whose rule, eventID and content\n" \
    "                     were already emitted is dropped), and count each copy of an event in correlations\n" \
    "\n" \
    "correlations (Sigma correlation rules):\n" \
    "  --correlation-state FILE  write the base-rule matches to FILE (NDJSON) instead of correlating:\n" \
    "                     the map step of a sharded run ('orgtrail correlate' is the reduce)\n" \
    "  --max-correlation-matches N  base-rule matches kept for correlations (default 10000000);\n" \
    "                     past it: an error, no correlation finding, exit 1\n" \
    "\n" \
    "rules:\n" \
    "  --rules PATH       Sigma rules: a .yml file or a directory of them (repeatable)\n" \
    "  --no-builtin       without the built-in Organizations pack\n" \
    "\n" \
    "the organization's own context:\n" \
    "  --org-inventory FILE  the JSON of 'aws organizations list-policies --filter TYPE', 'list-accounts'\n" \
    "                     or 'list-delegated-administrators' (repeatable): names policy types and accounts;\n" \
    "                     tag, backup, AI opt-out and chatbot policy changes become low\n" \
    "  --trusted-principal GLOB  actor.arn pattern of your own security automation (repeatable): its\n" \
    "                     delegated-admin and service-access calls become info; others are marked trusted\n"

#define EXIT_TEXT \
    "\n" \
    "exit status: 0 all inputs read, 1 some input was bad (reported on stderr) or an output\n" \
    "could not be written, 2 usage error\n"

static const char usage[] = USAGE_LINES "\n" SCAN_TEXT EXIT_TEXT;

static const char scan_usage[] = "usage: orgtrail scan [options] [PATH ...]\n\n" SCAN_TEXT EXIT_TEXT;

static const char rules_list_usage[] =
    "usage: orgtrail rules [list] [--rules PATH]... [--no-builtin]\n"
    "\n"
    "Lists the rules a scan with the same options would run, one a line (tab-separated).\n"
    "  --rules PATH       Sigma rules: a .yml file or a directory of them (repeatable)\n"
    "  --no-builtin       without the built-in Organizations pack\n"
    "exit status: 0, or 2 when a rule file cannot be read\n";

static const char rules_check_usage[] =
    "usage: orgtrail rules check PATH...\n"
    "\n"
    "Loads the Sigma rules in each PATH (a .yml file or a directory) and says, for each rule,\n"
    "loaded, skipped (logsource not aws/cloudtrail) or unsupported (and why). -- ends options.\n"
    "exit status: 0 all supported, 1 some rule unsupported, 2 usage error\n";

static const char summary_usage[] =
    "usage: orgtrail summary [--json] [FILE ...]\n"
    "\n"
    "Reads findings (NDJSON as 'scan' writes it, or --format ocsf) from each FILE, or stdin, and prints\n"
    "counts by severity, rule, account and actor, the first and last eventTime, and the story: every\n"
    "critical and high finding and every correlation, in time order.\n"
    "  --json             one JSON object instead: {findings, first, last, by_severity, by_rule,\n"
    "                     by_account, by_actor, story}\n"
    "exit status: 0, 1 when a FILE could not be read or held lines that are not findings, 2 usage error\n";

static const char report_usage[] =
    "usage: orgtrail report [-o FILE] [FILE ...]\n"
    "\n"
    "Writes one self-contained HTML page (no script, style sheet, font or image from anywhere) about\n"
    "the findings in each FILE, or stdin: a timeline, the story, each account, the top actors, counts\n"
    "by rule and the correlations. -o FILE: write it there (default: stdout).\n"
    "exit status: as for summary\n";

static const char correlate_usage[] =
    "usage: orgtrail correlate [--rules PATH]... [options] STATE...\n"
    "\n"
    "The reduce step of a sharded scan: reads the base-rule matches that 'scan --correlation-state'\n"
    "wrote (each shard's STATE file, in any order; an event in two shards counts once) and writes the\n"
    "correlation findings an unsharded scan would have written. The rules and --format must be the\n"
    "scan's: a STATE made otherwise is refused.\n"
    "  --rules PATH       Sigma rules: a .yml file or a directory of them (repeatable)\n"
    "  --no-builtin       without the built-in Organizations pack\n"
    "  -o FILE            write the findings to FILE instead of stdout\n"
    "  --format F         ndjson (default) or ocsf: the scan's\n"
    "  --min-severity L   only findings of severity L or above\n"
    "  --no-dedupe        as the scan's --no-dedupe\n"
    "  --max-correlation-matches N  base-rule matches kept (default 10000000)\n"
    "  --stats            print counters as one JSON object on stderr at the end\n"
    "  -q, --quiet        no notices\n"
    "exit status: 0, 1 when a STATE could not be read, held damaged lines or was refused, or the\n"
    "matches passed --max-correlation-matches, 2 usage error\n";

static const char rules_test_usage[] =
    "usage: orgtrail rules test RULES EVENTS...\n"
    "\n"
    "Scans EVENTS (files, directories or -) with only the Sigma rules in RULES, as 'scan' would.\n"
    "exit status: as for scan\n";

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

enum {
    OPT_ALL_ORG_EVENTS = 256,
    OPT_RAW,
    OPT_STATS,
    OPT_STATS_FILE,
    OPT_VALIDATE,
    OPT_MAX_RECORD,
    OPT_IO,
    OPT_IO_DEPTH,
    OPT_S3_CONCURRENCY,
    OPT_ENDPOINT_URL,
    OPT_PART_SIZE,
    OPT_SINCE,
    OPT_UNTIL,
    OPT_KEY_SLACK,
    OPT_ACCOUNTS,
    OPT_REGIONS,
    OPT_ORG_REGIONS,
    OPT_FILES_FROM,
    OPT_FILES_FROM_BASE,
    OPT_CHECKPOINT,
    OPT_CHECKPOINT_INTERVAL,
    OPT_SHARD,
    OPT_SHARD_COUNT,
    OPT_PROGRESS,
    OPT_NO_PROGRESS,
    OPT_NO_DEDUPE,
    OPT_RULES,
    OPT_NO_BUILTIN,
    OPT_ORG_INVENTORY,
    OPT_TRUSTED_PRINCIPAL,
    OPT_MIN_SEVERITY,
    OPT_FORMAT,
    OPT_COLOR,
    OPT_SUMMARY,
    OPT_JSON,
    OPT_CORRELATION_STATE,
    OPT_MAX_CORRELATION_MATCHES,
};

static const struct option scan_options[] = {
    { "output", required_argument, NULL, 'o' },
    { "all-org-events", no_argument, NULL, OPT_ALL_ORG_EVENTS },
    { "raw", no_argument, NULL, OPT_RAW },
    { "stats", no_argument, NULL, OPT_STATS },
    { "stats-file", required_argument, NULL, OPT_STATS_FILE },
    { "validate", no_argument, NULL, OPT_VALIDATE },
    { "max-record", required_argument, NULL, OPT_MAX_RECORD },
    { "io", required_argument, NULL, OPT_IO },
    { "io-depth", required_argument, NULL, OPT_IO_DEPTH },
    { "s3-concurrency", required_argument, NULL, OPT_S3_CONCURRENCY },
    { "endpoint-url", required_argument, NULL, OPT_ENDPOINT_URL },
    { "part-size", required_argument, NULL, OPT_PART_SIZE },
    { "quiet", no_argument, NULL, 'q' },
    { "since", required_argument, NULL, OPT_SINCE },
    { "until", required_argument, NULL, OPT_UNTIL },
    { "key-slack", required_argument, NULL, OPT_KEY_SLACK },
    { "accounts", required_argument, NULL, OPT_ACCOUNTS },
    { "regions", required_argument, NULL, OPT_REGIONS },
    { "org-regions", no_argument, NULL, OPT_ORG_REGIONS },
    { "files-from", required_argument, NULL, OPT_FILES_FROM },
    { "files-from-base", required_argument, NULL, OPT_FILES_FROM_BASE },
    { "checkpoint", required_argument, NULL, OPT_CHECKPOINT },
    { "checkpoint-interval", required_argument, NULL, OPT_CHECKPOINT_INTERVAL },
    { "shard", required_argument, NULL, OPT_SHARD },
    { "shard-count", required_argument, NULL, OPT_SHARD_COUNT },
    { "progress", no_argument, NULL, OPT_PROGRESS },
    { "no-progress", no_argument, NULL, OPT_NO_PROGRESS },
    { "no-dedupe", no_argument, NULL, OPT_NO_DEDUPE },
    { "rules", required_argument, NULL, OPT_RULES },
    { "no-builtin", no_argument, NULL, OPT_NO_BUILTIN },
    { "org-inventory", required_argument, NULL, OPT_ORG_INVENTORY },
    { "trusted-principal", required_argument, NULL, OPT_TRUSTED_PRINCIPAL },
    { "min-severity", required_argument, NULL, OPT_MIN_SEVERITY },
    { "format", required_argument, NULL, OPT_FORMAT },
    { "color", required_argument, NULL, OPT_COLOR },
    { "summary", no_argument, NULL, OPT_SUMMARY },
    { "correlation-state", required_argument, NULL, OPT_CORRELATION_STATE },
    { "max-correlation-matches", required_argument, NULL, OPT_MAX_CORRELATION_MATCHES },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
};

static const struct option correlate_options[] = {
    { "rules", required_argument, NULL, OPT_RULES },
    { "no-builtin", no_argument, NULL, OPT_NO_BUILTIN },
    { "output", required_argument, NULL, 'o' },
    { "format", required_argument, NULL, OPT_FORMAT },
    { "min-severity", required_argument, NULL, OPT_MIN_SEVERITY },
    { "no-dedupe", no_argument, NULL, OPT_NO_DEDUPE },
    { "max-correlation-matches", required_argument, NULL, OPT_MAX_CORRELATION_MATCHES },
    { "stats", no_argument, NULL, OPT_STATS },
    { "quiet", no_argument, NULL, 'q' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
};

static const struct option summary_options[] = {
    { "json", no_argument, NULL, OPT_JSON },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
};

static const struct option report_options[] = {
    { "output", required_argument, NULL, 'o' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
};

static const struct option rules_list_options[] = {
    { "rules", required_argument, NULL, OPT_RULES },
    { "no-builtin", no_argument, NULL, OPT_NO_BUILTIN },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
};

static const struct option help_only_options[] = {
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
};

/* getopt's '?' and ':' as one line naming the option, like the rest. */
static int getopt_error(cli_options *o, int c, char **argv, const char *cmd)
{
    char name[64];
    if (optopt > 0 && optopt < 256)
        snprintf(name, sizeof name, "-%c", optopt);
    else
        snprintf(name, sizeof name, "%s", argv[optind - 1]);
    if (c == ':')
        snprintf(o->error, sizeof o->error, "%s needs a value (try 'orgtrail %s --help')", name, cmd);
    else if (optopt >= 256)
        snprintf(o->error, sizeof o->error, "%s takes no value (try 'orgtrail %s --help')", name, cmd);
    else
        snprintf(o->error, sizeof o->error, "unknown option '%s' (try 'orgtrail %s --help')", name, cmd);
    return -1;
}

static int when_option(cli_options *o, int since, const char *v, int64_t now)
{
    int64_t t;
    enum when_kind kind;
    if (parse_when(v, now, &t, &kind))
        return usage_error(o, since ? "bad --since '%s' (want RFC 3339, e.g. 2024-03-01T00:00:00Z, a date, "
                                      "or a duration back from now, e.g. 7d)"
                                    : "bad --until '%s' (want RFC 3339, e.g. 2024-03-01T00:00:00Z, a date, "
                                      "or a duration back from now, e.g. 7d)", v);
    if (since) {
        o->has_since = 1;
        o->since = t;
        o->since_text = v;
        o->since_relative = kind == WHEN_RELATIVE;
    } else {
        o->has_until = 1;
        /* a bare date means the whole day; a duration is an exact instant */
        o->until = kind == WHEN_DATE ? t + 86400 : t;
        o->until_text = v;
        o->until_relative = kind == WHEN_RELATIVE;
    }
    return 0;
}

/* One scan option (c from getopt_long, its value v). */
static int scan_option(cli_options *o, int c, const char *v, int64_t now)
{
    switch (c) {
    case 'o':
        o->output = strcmp(v, "-") == 0 ? NULL : v;
        return 0;
    case OPT_ALL_ORG_EVENTS:
        o->all_org_events = 1;
        return 0;
    case OPT_RAW:
        o->raw = 1;
        return 0;
    case OPT_STATS:
        o->stats = 1;
        return 0;
    case OPT_STATS_FILE:
        o->stats_file = v;
        return 0;
    case OPT_VALIDATE:
        o->validate = 1;
        return 0;
    case 'q':
        o->quiet = 1;
        return 0;
    case OPT_MAX_RECORD:
        return parse_size(v, &o->max_record) ? usage_error(o, "bad --max-record '%s' (want e.g. 64M)", v) : 0;
    case OPT_PART_SIZE:
        if (strcmp(v, "0") == 0)
            o->part_size = 0;
        else if (parse_size(v, &o->part_size) || o->part_size > (4u << 20))
            return usage_error(o, "bad --part-size '%s' (want up to 4M, or 0)", v);
        return 0;
    case 'j':
        return parse_count(v, 1024, &o->workers) ? usage_error(o, "bad -j '%s' (want 1..1024)", v) : 0;
    case OPT_IO_DEPTH:
        return parse_count(v, 4096, &o->io_depth) ? usage_error(o, "bad --io-depth '%s' (want 1..4096)", v) : 0;
    case OPT_S3_CONCURRENCY:
        return parse_count(v, 1024, &o->s3_concurrency) ? usage_error(o, "bad --s3-concurrency '%s' (want 1..1024)", v)
                                                        : 0;
    case OPT_ENDPOINT_URL:
        o->endpoint_url = v;
        return 0;
    case OPT_IO:
        if (strcmp(v, "uring") == 0)
            o->io = 1;
        else if (strcmp(v, "sync") == 0)
            o->io = 2;
        else
            return usage_error(o, "bad --io '%s' (want uring or sync)", v);
        return 0;
    case OPT_SINCE:
    case OPT_UNTIL:
        return when_option(o, c == OPT_SINCE, v, now);
    case OPT_KEY_SLACK:
        return parse_duration(v, &o->key_slack) ? usage_error(o, "bad --key-slack '%s' (want e.g. 1h, 30m, 90s)", v)
                                                : 0;
    case OPT_ACCOUNTS:
    case OPT_REGIONS: {
        int accounts = c == OPT_ACCOUNTS;
        free(accounts ? o->accounts : o->regions);
        if (split_list((char *)v, accounts ? &o->accounts : &o->regions, accounts ? &o->naccounts : &o->nregions))
            return usage_error(o, accounts ? "bad --accounts '%s' (want a comma-separated list)"
                                           : "bad --regions '%s' (want a comma-separated list)", v);
        return 0;
    }
    case OPT_ORG_REGIONS:
        o->org_regions = 1;
        return 0;
    case OPT_FILES_FROM_BASE:
        o->files_from_base = v;
        return 0;
    case OPT_FILES_FROM:
        o->files_from = v;
        return 0;
    case OPT_CHECKPOINT:
        o->checkpoint = v;
        return 0;
    case OPT_CHECKPOINT_INTERVAL: {
        char *end;
        o->checkpoint_interval = strtod(v, &end);
        o->has_checkpoint_interval = 1;
        if (end == v || *end || !(o->checkpoint_interval >= 0))
            return usage_error(o, "bad --checkpoint-interval '%s' (want seconds)", v);
        return 0;
    }
    case OPT_SHARD: {
        unsigned si, sn;
        char extra;
        if (strcmp(v, "auto") == 0) {
            o->shard_auto = 1;
        } else if (sscanf(v, "%u/%u%c", &si, &sn, &extra) == 2 && sn > 0 && si < sn) {
            o->shard_index = si;
            o->shard_count = sn;
        } else {
            return usage_error(o, "bad --shard '%s' (want I/N with 0 <= I < N, or auto)", v);
        }
        return 0;
    }
    case OPT_SHARD_COUNT:
        return parse_count(v, 1u << 30, &o->shard_count_opt) ? usage_error(o, "bad --shard-count '%s' (want N > 0)", v)
                                                             : 0;
    case OPT_PROGRESS:
        o->progress = 1;
        return 0;
    case OPT_NO_PROGRESS:
        o->progress = 0;
        return 0;
    case OPT_NO_DEDUPE:
        o->no_dedupe = 1;
        return 0;
    case OPT_RULES:
        o->rule_paths[o->nrule_paths++] = v;
        return 0;
    case OPT_NO_BUILTIN:
        o->no_builtin = 1;
        return 0;
    case OPT_ORG_INVENTORY:
        o->inventories[o->ninventories++] = v;
        return 0;
    case OPT_TRUSTED_PRINCIPAL:
        if (v[0] == '\0')
            return usage_error(o, "bad --trusted-principal '%s' (want an ARN pattern, e.g. "
                                  "'arn:aws:sts::*:assumed-role/SecurityAutomation/*')", v);
        o->trusted[o->ntrusted++] = v;
        return 0;
    case OPT_MIN_SEVERITY: {
        static const char *const levels[] = { "info", "low", "medium", "high", "critical" };
        for (int i = 0; i < 5; i++)
            if (strcmp(v, levels[i]) == 0) {
                o->min_severity = i;
                return 0;
            }
        return usage_error(o, "bad --min-severity '%s' (want info, low, medium, high or critical)", v);
    }
    case OPT_FORMAT:
        if (strcmp(v, "ndjson") == 0)
            o->format = 0;
        else if (strcmp(v, "ocsf") == 0)
            o->format = 1;
        else if (strcmp(v, "table") == 0)
            o->format = 2;
        else
            return usage_error(o, "bad --format '%s' (want ndjson, ocsf or table)", v);
        return 0;
    case OPT_COLOR:
        if (strcmp(v, "auto") == 0)
            o->color = 0;
        else if (strcmp(v, "always") == 0)
            o->color = 1;
        else if (strcmp(v, "never") == 0)
            o->color = 2;
        else
            return usage_error(o, "bad --color '%s' (want auto, always or never)", v);
        return 0;
    case OPT_SUMMARY:
        o->summary = 1;
        return 0;
    case OPT_JSON:
        o->json = 1;
        return 0;
    case OPT_CORRELATION_STATE:
        o->correlation_state = v;
        return 0;
    case OPT_MAX_CORRELATION_MATCHES: {
        char *end;
        errno = 0;
        unsigned long long n = strtoull(v, &end, 10);
        if (errno || end == v || *end || v[0] == '-' || n == 0)
            return usage_error(o, "bad --max-correlation-matches '%s' (want N > 0)", v);
        o->max_correlation_matches = n;
        return 0;
    }
    }
    return usage_error(o, "%s", "internal: unhandled option");
}

/*
 * Runs getopt_long over argv[0..argc) (argv[0] is the command's name).
 * Options and operands are taken in order ("-" in optstring), so options
 * may follow PATHs whatever POSIXLY_CORRECT says; operands go to
 * operands[]. Returns 0, 1 for --help (o->help set to help), or -1.
 */
static int run_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts,
                      const char *cmd, const char *help, cli_options *o, const char **operands, size_t *noperands,
                      int64_t now)
{
    char optstring[32];
    snprintf(optstring, sizeof optstring, "-:%s", shortopts);
    optind = 0;    /* glibc: a full reset, cli_parse may run more than once */
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, optstring, longopts, NULL)) != -1) {
        if (c == 1) {
            operands[(*noperands)++] = optarg;
        } else if (c == 'h') {
            o->command = CLI_HELP;
            o->help = help;
            return 1;
        } else if (c == '?' || c == ':') {
            return getopt_error(o, c, argv, cmd);
        } else if (scan_option(o, c, optarg, now)) {
            return -1;
        }
    }
    /* after "--": everything is an operand */
    for (int i = optind; i < argc; i++)
        operands[(*noperands)++] = argv[i];
    return 0;
}

static int reads_stdin(const cli_options *o)
{
    int in = o->npaths == 0 && !o->files_from;
    for (size_t i = 0; i < o->npaths; i++)
        in |= strcmp(o->paths[i], "-") == 0;
    return in;
}

/* What one option needs of another, and what cannot be combined. */
static int scan_check(cli_options *o)
{
    if (o->no_builtin && o->nrule_paths == 0)
        return usage_error(o, "%s", "--no-builtin leaves no rules: add --rules PATH");
    if (o->checkpoint && !o->output)
        return usage_error(o, "%s", "--checkpoint needs -o FILE: the output is what gets resumed");
    if (o->has_checkpoint_interval && !o->checkpoint)
        return usage_error(o, "%s", "--checkpoint-interval needs --checkpoint FILE");
    /* stdout is the findings': the state would be mixed into them */
    if (o->correlation_state && strcmp(o->correlation_state, "-") == 0)
        return usage_error(o, "%s", "--correlation-state needs a FILE ('-' would mix the state into the findings on stdout)");
    if (o->shard_count_opt && !o->shard_auto)
        return usage_error(o, "%s", "--shard-count needs --shard auto (--shard I/N gives N itself)");
    if (o->has_since && o->has_until && o->until <= o->since)
        return usage_error(o, "%s", "--until must be after --since");
    int in = reads_stdin(o);
    if ((o->shard_count || o->shard_auto) && in)
        return usage_error(o, "%s", "--shard selects files by path; a stream on stdin cannot be sharded");
    /* the lead's call: a stream cannot be shown to be the same stream again */
    if (o->checkpoint && in)
        return usage_error(o, "%s", "--checkpoint resumes files, not stdin: give PATHs or --files-from");
    if (o->checkpoint && o->format == 2)
        return usage_error(o, "%s", "--checkpoint resumes findings a program can read again: not with --format table");
    if (o->files_from && strcmp(o->files_from, "-") == 0 && in && o->npaths > 0)
        return usage_error(o, "%s", "--files-from - and a - input would both read stdin");
    if (o->correlation_state && o->format == 2)
        return usage_error(o, "%s", "--correlation-state keeps matches for 'orgtrail correlate': not with --format table");
    return 0;
}

int cli_parse(int argc, char **argv, cli_options *o)
{
    memset(o, 0, sizeof *o);
    o->max_record = 64u << 20;
    o->part_size = 256u << 10;
    o->io_depth = 64;
    o->s3_concurrency = 128;
    o->key_slack = 3600;
    o->checkpoint_interval = 1.0;
    o->progress = -1;
    o->format = -1;
    o->max_correlation_matches = 10000000;
    if (argc < 2)
        return usage_error(o, "%s", "missing command (try 'orgtrail --help')");
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        o->command = CLI_HELP;
        o->help = usage;
        return 0;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0) {
        o->command = CLI_VERSION;
        return 0;
    }
    o->paths = calloc((size_t)argc, sizeof *o->paths);
    o->rule_paths = calloc((size_t)argc, sizeof *o->rule_paths);
    o->inventories = calloc((size_t)argc, sizeof *o->inventories);
    o->trusted = calloc((size_t)argc, sizeof *o->trusted);
    if (!o->paths || !o->rule_paths || !o->inventories || !o->trusted)
        return usage_error(o, "%s", "out of memory");
    int64_t now = (int64_t)time(NULL);
    int rc;
    if (strcmp(cmd, "rules") == 0) {
        const char *sub = argc > 2 ? argv[2] : "list";
        if (strcmp(sub, "check") == 0) {
            o->command = CLI_RULES_CHECK;
            rc = run_getopt(argc - 2, argv + 2, "h", help_only_options, "rules check", rules_check_usage, o,
                            o->rule_paths, &o->nrule_paths, now);
            if (rc == 0 && o->nrule_paths == 0)
                return usage_error(o, "%s", "rules check needs a PATH");
            return rc < 0 ? -1 : 0;
        }
        if (strcmp(sub, "test") == 0) {
            o->command = CLI_RULES_TEST;
            rc = run_getopt(argc - 2, argv + 2, "h", help_only_options, "rules test", rules_test_usage, o, o->paths,
                            &o->npaths, now);
            if (rc != 0)
                return rc < 0 ? -1 : 0;
            if (o->npaths < 2)
                return usage_error(o, "%s", "rules test needs RULES and EVENTS");
            /* the first operand is the rules, the rest the events */
            o->rule_paths[o->nrule_paths++] = o->paths[0];
            memmove(o->paths, o->paths + 1, --o->npaths * sizeof *o->paths);
            o->no_builtin = 1;
            return 0;
        }
        if (strcmp(sub, "list") != 0 && sub[0] != '-')
            return usage_error(o, "unknown 'rules %s' (list, check or test)", sub);
        o->command = CLI_RULES;
        int skip = argc > 2 && strcmp(argv[2], "list") == 0 ? 2 : 1;
        const char **extra = o->paths;    /* rules list takes no operands */
        size_t nextra = 0;
        rc = run_getopt(argc - skip, argv + skip, "h", rules_list_options, "rules list", rules_list_usage, o, extra,
                        &nextra, now);
        if (rc == 0 && nextra > 0)
            return usage_error(o, "unexpected argument '%s' to 'rules list'", extra[0]);
        return rc < 0 ? -1 : 0;
    }
    if (strcmp(cmd, "summary") == 0 || strcmp(cmd, "report") == 0) {
        int report = cmd[0] == 'r';
        o->command = report ? CLI_REPORT : CLI_SUMMARY;
        rc = run_getopt(argc - 1, argv + 1, report ? "o:h" : "h", report ? report_options : summary_options, cmd,
                        report ? report_usage : summary_usage, o, o->paths, &o->npaths, now);
        return rc < 0 ? -1 : 0;
    }
    if (strcmp(cmd, "correlate") == 0) {
        o->command = CLI_CORRELATE;
        rc = run_getopt(argc - 1, argv + 1, "o:qh", correlate_options, cmd, correlate_usage, o, o->paths, &o->npaths,
                        now);
        if (rc != 0)
            return rc < 0 ? -1 : 0;
        if (o->format == 2)
            return usage_error(o, "%s", "correlate writes --format ndjson or ocsf (the scan's)");
        if (o->no_builtin && o->nrule_paths == 0)
            return usage_error(o, "%s", "--no-builtin leaves no rules: add --rules PATH");
        if (o->npaths == 0)
            return usage_error(o, "%s", "correlate needs a STATE file (from scan --correlation-state)");
        return 0;
    }
    if (strcmp(cmd, "scan") != 0)
        return usage_error(o, "unknown command '%s' (try 'orgtrail --help')", cmd);
    o->command = CLI_SCAN;
    rc = run_getopt(argc - 1, argv + 1, "o:qj:h", scan_options, "scan", scan_usage, o, o->paths, &o->npaths, now);
    if (rc != 0)
        return rc < 0 ? -1 : 0;
    return scan_check(o);
}

void cli_free(cli_options *o)
{
    free(o->paths);
    free(o->rule_paths);
    free(o->inventories);
    free(o->trusted);
    free(o->accounts);
    free(o->regions);
    o->paths = o->rule_paths = o->inventories = o->trusted = NULL;
    o->accounts = o->regions = NULL;
}

/* ---- orgtrail verify ---------------------------------------------------- */

static const char verify_usage[] =
    "usage: orgtrail verify [--public-keys FILE] [--signatures FILE] [options] PATH...\n"
    "\n"
    "Proves from CloudTrail's digest files that a trail's bucket, or a local copy of it, is complete\n"
    "and unaltered: every digest's signature and its chain, every listed log file's SHA-256, and no\n"
    "log file that no digest lists. A key AWSLogs/... a digest names is the file at that path\n"
    "from the last AWSLogs/ of a PATH. A PATH s3://bucket[/prefix] is listed and read over HTTPS\n"
    "(the AWS credential chain); its newest digests' signatures come from their x-amz-meta-signature. Each problem is one NDJSON finding on stdout\n"
    "(integrity.log_modified, log_missing, log_unlisted, digest_missing, digest_invalid,\n"
    "delivery_gap); stderr ends with a summary.\n"
    "\n"
    "  --public-keys FILE the output of 'aws cloudtrail list-public-keys' (without it no\n"
    "                     signature is checked)\n"
    "  --signatures FILE  NDJSON {\"key\": digest key, \"signature\": hex}: the newest digests'\n"
    "                     x-amz-meta-signature, from 'aws s3api head-object'\n"
    "  --since T, --until T, --key-slack DUR, --accounts A,B, --regions R,S\n"
    "                     only the digests of that window, accounts and regions (as for scan)\n"
    "  -j N               hashing threads (default: one per CPU the process may use)\n"
    "  --io=uring|sync    how files are read; --io-depth N files in flight (default 64)\n"
    "  --s3-concurrency N, --endpoint-url URL  for s3:// PATHs, as for scan\n"
    "  -q, --quiet        no notes about unverified digests\n"
    "exit status: 0 no problem, 1 a problem or an input that could not be read, 2 usage error\n";

static const struct option verify_options[] = {
    { "public-keys", required_argument, NULL, 'k' },
    { "signatures", required_argument, NULL, 's' },
    { "since", required_argument, NULL, OPT_SINCE },
    { "until", required_argument, NULL, OPT_UNTIL },
    { "key-slack", required_argument, NULL, OPT_KEY_SLACK },
    { "accounts", required_argument, NULL, OPT_ACCOUNTS },
    { "regions", required_argument, NULL, OPT_REGIONS },
    { "io", required_argument, NULL, OPT_IO },
    { "io-depth", required_argument, NULL, OPT_IO_DEPTH },
    { "s3-concurrency", required_argument, NULL, OPT_S3_CONCURRENCY },
    { "endpoint-url", required_argument, NULL, OPT_ENDPOINT_URL },
    { "quiet", no_argument, NULL, 'q' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
};

/*
 * The verify options go through scan_option, on a scratch cli_options, so
 * a value is read and checked exactly as scan reads it; the values verify
 * takes are then copied over.
 */
int cli_parse_verify(int argc, char **argv, cli_verify_options *o)
{
    memset(o, 0, sizeof *o);
    cli_options scratch;
    memset(&scratch, 0, sizeof scratch);
    scratch.key_slack = 3600;
    scratch.io_depth = 64;
    int rc = -1;
    o->paths = calloc((size_t)argc, sizeof *o->paths);
    if (!o->paths) {
        snprintf(o->error, sizeof o->error, "out of memory");
        goto out;
    }
    int64_t now = (int64_t)time(NULL);
    optind = 0;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc - 1, argv + 1, "-:j:qh", verify_options, NULL)) != -1) {
        if (c == 1) {
            o->paths[o->npaths++] = optarg;
        } else if (c == 'h') {
            o->help = verify_usage;
            rc = 0;
            goto out;
        } else if (c == '?' || c == ':') {
            getopt_error(&scratch, c, argv + 1, "verify");
            goto out;
        } else if (c == 'k') {
            o->public_keys = optarg;
        } else if (c == 's') {
            o->signatures = optarg;
        } else if (scan_option(&scratch, c, optarg, now)) {
            goto out;
        }
    }
    for (int i = optind + 1; i < argc; i++)
        o->paths[o->npaths++] = argv[i];
    if (o->npaths == 0) {
        usage_error(&scratch, "%s", "verify needs a PATH: the folder that holds AWSLogs/ (try 'orgtrail verify --help')");
        goto out;
    }
    for (size_t i = 0; i < o->npaths; i++) {
        if (strcmp(o->paths[i], "-") == 0) {
            usage_error(&scratch, "%s", "verify checks files against their S3 keys: a stream on stdin has none");
            goto out;
        }
    }
    if (scratch.has_since && scratch.has_until && scratch.until <= scratch.since) {
        usage_error(&scratch, "%s", "--until must be after --since");
        goto out;
    }
    o->has_since = scratch.has_since;
    o->has_until = scratch.has_until;
    o->since = scratch.since;
    o->until = scratch.until;
    o->key_slack = scratch.key_slack;
    o->accounts = scratch.accounts;
    o->naccounts = scratch.naccounts;
    o->regions = scratch.regions;
    o->nregions = scratch.nregions;
    scratch.accounts = scratch.regions = NULL;
    o->workers = scratch.workers;
    o->io_depth = scratch.io_depth;
    o->io = scratch.io;
    o->quiet = scratch.quiet;
    o->s3_concurrency = scratch.s3_concurrency;
    o->endpoint_url = scratch.endpoint_url;
    rc = 0;
out:
    if (rc && scratch.error[0])
        snprintf(o->error, sizeof o->error, "%s", scratch.error);
    cli_free(&scratch);
    return rc;
}

void cli_verify_free(cli_verify_options *o)
{
    free(o->paths);
    free(o->accounts);
    free(o->regions);
    o->paths = NULL;
    o->accounts = o->regions = NULL;
}
