/*
 * orgtrail: main only wires the stages. It turns argv into options, runs
 * the engine, and is the one place that decides the exit status:
 *   0  every input was read (findings or not)
 *   1  at least one input was bad (each reported on stderr), or the
 *      output could not be written
 *   2  usage error
 */
#include <errno.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "cli.h"
#include "context.h"
#include "report.h"
#include "summary.h"
#include "table.h"
#include "decode.h"
#include "rules.h"
#include "run.h"
#include "util.h"
#include "verify.h"

#ifndef ORGTRAIL_VERSION
#define ORGTRAIL_VERSION "dev"
#endif

static void print_version(void)
{
    printf("orgtrail %s (inflate: %s, zstd %s, simdjson, liburing)\n", ORGTRAIL_VERSION,
           decode_inflate_backend(), ZSTD_versionString());
}

/* ---- orgtrail verify ---------------------------------------------------- */

/* Exit 0 when the archive verifies, 1 on a problem or a bad input, 2 on a
 * usage error. */
static int verify_main(int argc, char **argv)
{
    cli_verify_options o;
    int status = 0;
    if (cli_parse_verify(argc, argv, &o) != 0) {
        ot_say(stderr, "orgtrail: %s\n", o.error);
        status = 2;
        goto out;
    }
    if (o.help) {
        fputs(o.help, stdout);
        goto out;
    }
    verify_options vo = {
        .paths = o.paths,
        .npaths = o.npaths,
        .public_keys = o.public_keys,
        .signatures = o.signatures,
        .walk = {
            .has_since = o.has_since,
            .has_until = o.has_until,
            .since = o.since,
            .until = o.until,
            .key_slack = o.key_slack,
            .accounts = o.accounts,
            .naccounts = o.naccounts,
            .regions = o.regions,
            .nregions = o.nregions,
        },
        .workers = o.workers ? o.workers : ot_cpus(),
        .io_depth = o.io_depth,
        .io = o.io == 1 ? READER_IO_URING : o.io == 2 ? READER_IO_SYNC : READER_IO_AUTO,
        .quiet = o.quiet,
        .s3_concurrency = o.s3_concurrency,
        .endpoint_url = o.endpoint_url,
    };
    verify_report rep;
    int rc = verify_run(&vo, &rep, stdout, stderr);
    if (rc < 0) {
        ot_say(stderr, "orgtrail: verify stopped: %s\n", strerror(-rc));
        status = 1;
    } else if (rep.problems || rep.errors) {
        status = 1;
    }
out:
    fflush(stdout);
    cli_verify_free(&o);
    return status;
}

/* A timespan in the largest unit that states it exactly, as a rule writes it. */
static void print_timespan(int64_t ms)
{
    static const struct {
        char unit;
        int64_t ms;
    } units[] = { { 'd', 86400000 }, { 'h', 3600000 }, { 'm', 60000 }, { 's', 1000 } };
    for (size_t u = 0; u < sizeof units / sizeof units[0]; u++)
        if (ms % units[u].ms == 0) {
            printf("%lld%c", (long long)(ms / units[u].ms), units[u].unit);
            return;
        }
    printf("%lldms", (long long)ms);
}

/* A field of rules list's TSV, as the rule file gave it but for what would
 * break the line or reach the terminal as a code: tabs and line breaks
 * become spaces, other control bytes '?' (printable_text). */
static void put_tsv(const char *s)
{
    char *t = strdup(s ? s : "");
    if (!t) {
        fputs("?", stdout);
        return;
    }
    for (char *p = t; *p; p++)
        if (*p == '\t' || *p == '\n' || *p == '\r')
            *p = ' ';
    fputs(printable_text(t), stdout);
    free(t);
}

/* put_tsv of each of n strings, comma-separated. */
static void put_tsv_list(const char *const *v, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        if (k)
            fputc(',', stdout);
        put_tsv(v[k]);
    }
}

/* rules list, after the rules: one line a correlation, under its own header. */
static void print_correlations(const rules *r)
{
    static const char *const types[] = { "event_count", "value_count", "temporal", "temporal_ordered" };
    if (rules_correlation_count(r) == 0)
        return;
    printf("correlation\tseverity\ttitle\ttype\trules\tgroup-by\ttimespan\tgenerate\n");
    for (size_t i = 0; i < rules_correlation_count(r); i++) {
        const sigma_correlation *c = rules_correlation_at(r, i);
        put_tsv(c->id);
        printf("\t%s\t", severity_name((severity)c->level));
        put_tsv(c->title);
        printf("\t%s\t", types[c->type]);
        for (size_t k = 0; k < c->nrules; k++) {
            if (k)
                fputc(',', stdout);
            put_tsv(sigma_rule_id(c->rules[k]));
        }
        printf("\t");
        put_tsv_list(c->group_by, c->ngroup);
        printf("%s\t", c->ngroup ? "" : "-");
        print_timespan(c->timespan_ms);
        printf("\t%s\n", c->generate ? "yes" : "no");
    }
}

/* rules list: one line a rule, the built-in pack (and its catch-all) first;
 * then the correlations. */
static void print_rules(const rules *r, int builtin)
{
    /* the catch-all comes last, after the pack and any Sigma rules */
    printf("id\tseverity\ttitle\teventNames\tneedles\tanchored\trationale\n");
    size_t n = rules_count(r) + (builtin ? 1 : 0);
    for (size_t i = 0; i < n; i++) {
        const rule *ru = i < rules_count(r) ? rules_at(r, i) : rules_catch_all();
        /* a correlation's base rule makes no finding of its own: it has no severity to show */
        put_tsv(ru->id);
        printf("\t%s\t", ru->silent ? "base" : severity_name(ru->level));
        put_tsv(ru->title);
        printf("\t");
        const char *names[64];
        size_t nnames = ru->sigma ? sigma_rule_values(ru->sigma, "eventName", names, 64) : 0;
        put_tsv_list(names, nnames);
        printf("%s", ru->sigma ? (nnames ? "" : "-") : "*");
        const char *const *nd = ru->sigma ? sigma_rule_needles(ru->sigma) : NULL;
        if (!ru->sigma)
            printf("\t\"organizations.\tyes");
        else if (!*nd)
            printf("\t-\tno");
        else {
            size_t nneedles = 0;
            while (nd[nneedles])
                nneedles++;
            printf("\t");
            put_tsv_list(nd, nneedles);
            printf("\tyes");
        }
        printf("\t");
        put_tsv(ru->rationale[0] ? ru->rationale : "-");
        printf("\n");
    }
    print_correlations(r);
}

typedef struct {
    int quiet;
    int verbose;          /* rules check: a line for every rule */
    unsigned loaded, unsupported, skipped;
    unsigned bad_files;   /* cannot be read, or not YAML */
} load_report;

static void on_rule(void *arg, const char *source, const char *name, sigma_status st, const char *reason)
{
    load_report *lr = arg;
    FILE *to = lr->verbose ? stdout : stderr;
    const char *prefix = lr->verbose ? "" : "orgtrail: ";
    if (st == SIGMA_BAD_FILE) {
        lr->bad_files++;
        fprintf(to, "%s%s%s%s: %s\n", prefix, source, name ? ":" : "", name ? name : "", reason);
    } else if (st == SIGMA_UNSUPPORTED) {
        lr->unsupported++;
        fprintf(to, "%s%s: %s: unsupported: %s\n", prefix, source, name, reason);
    } else if (st == SIGMA_SKIPPED) {
        lr->skipped++;
        if (lr->verbose)
            printf("%s: %s: skipped: %s\n", source, name, reason);
    } else {
        lr->loaded++;
        if (lr->verbose)
            printf("%s: %s: loaded\n", source, name);
    }
}

/* The rule list of the command, and the needles it needs. Returns NULL
 * after saying why: a rules file that cannot be read or is not YAML, or
 * --no-builtin with rules of which none loads (a usage error). rules check
 * (verbose) reports every file and rule and goes on. */
static rules *load_rules(const cli_options *o, load_report *lr, const char *const **needles, size_t *nneedles,
                         int *parse_all)
{
    *needles = NULL;
    *nneedles = 0;
    *parse_all = 0;
    rules *r = rules_create(!o->no_builtin);
    if (!r) {
        ot_say(stderr, "orgtrail: out of memory\n");
        return NULL;
    }
    for (size_t i = 0; i < o->nrule_paths; i++)
        rules_add_sigma(r, o->rule_paths[i], on_rule, lr);   /* on_rule counts what went wrong */
    /* correlations are reported here, once every rule they may name is loaded */
    if (rules_link(r, on_rule, lr) < 0) {
        ot_say(stderr, "orgtrail: out of memory\n");
        rules_free(r);
        return NULL;
    }
    if (lr->skipped && !lr->quiet && !lr->verbose)
        ot_say(stderr, "orgtrail: %u rules skipped: their logsource is not aws/cloudtrail\n", lr->skipped);
    /* one closing count: rules found (logsource-skipped ones are not CloudTrail rules: not counted) */
    if (lr->unsupported)
        ot_say(stderr, "orgtrail: %u of %u rules not loaded\n", lr->unsupported, lr->unsupported + lr->loaded);
    if (lr->verbose)
        return r;
    if (lr->bad_files || (o->no_builtin && rules_count(r) == 0)) {
        if (!lr->bad_files)
            ot_say(stderr, "orgtrail: --no-builtin and no rule of --rules loads: nothing to scan for\n");
        rules_free(r);
        return NULL;
    }
    size_t n;
    const rule *unanchored;
    *needles = rules_needles(r, o->all_org_events, &n, &unanchored);
    *nneedles = n;
    *parse_all = unanchored != NULL;
    if (!lr->quiet) {
        if (unanchored)
            ot_say(stderr, "orgtrail: rule %s (%s) needs no literal that the raw bytes could be searched for: "
                           "every record is parsed\n", unanchored->id, unanchored->title);
        else if (n > SCAN_MAX_RULE_NEEDLES)
            ot_say(stderr, "orgtrail: the rules need %zu needles, more than the %d searched for: "
                           "every record is parsed\n", n, SCAN_MAX_RULE_NEEDLES);
    }
    return r;
}

static uint64_t hash_field(uint64_t h, const char *name, const char *value)
{
    h = hash_bytes(h, name, strlen(name) + 1);
    /* NULL and "" differ: a one-byte tag says which */
    h = hash_bytes(h, value ? "=" : "-", 1);
    return value ? hash_bytes(h, value, strlen(value) + 1) : h;
}

static uint64_t hash_number(uint64_t h, const char *name, long long v)
{
    char num[24];
    snprintf(num, sizeof num, "%lld", v);
    return hash_field(h, name, num);
}

static uint64_t hash_list(uint64_t h, const char *name, const char *const *list, size_t n)
{
    h = hash_number(h, name, (long long)n);
    for (size_t i = 0; i < n; i++)
        h = hash_field(h, name, list[i]);
    return h;
}

/* A --since/--until bound: an absolute one by its instant, so 2024-03-01
 * and 2024-03-01T00:00:00Z agree; a relative one by its text, so a resumed
 * "--since 7d" is accepted (and uses the window of the resumed run's start). */
static uint64_t hash_when(uint64_t h, const char *name, int has, int relative, const char *text, int64_t t)
{
    if (!has)
        return hash_field(h, name, NULL);
    if (relative)
        return hash_field(h, name, text);
    return hash_number(h, name, (long long)t);
}

/* The parsed command, less what only changes speed or stderr (-j, --io,
 * --io-depth, --part-size, --checkpoint-interval, --progress, -q, --stats,
 * --stats-file), the shard and the rules' text: a checkpoint resumes only
 * the same command with the same rules, however its options were spelled. */
/* The organization's own context from --org-inventory and
 * --trusted-principal, or NULL when neither is given (*failed says whether
 * that is an error: a file that cannot be used, said on stderr). */
static org_context *load_context(const cli_options *o, int *failed)
{
    *failed = 0;
    if (o->ninventories == 0 && o->ntrusted == 0)
        return NULL;
    org_context *c = context_create();
    for (size_t i = 0; c && i < o->ntrusted; i++)
        if (context_add_trusted(c, o->trusted[i])) {
            context_free(c);
            c = NULL;
        }
    if (!c) {
        ot_say(stderr, "orgtrail: out of memory\n");
        *failed = 1;
        return NULL;
    }
    for (size_t i = 0; i < o->ninventories; i++) {
        char err[400];
        if (context_load_inventory(c, o->inventories[i], err, sizeof err) < 0) {
            ot_say(stderr, "orgtrail: --org-inventory %s: %s\n", o->inventories[i], err);
            *failed = 1;
        }
    }
    if (*failed) {
        context_free(c);
        return NULL;
    }
    return c;
}

static uint64_t command_fingerprint(const cli_options *o, unsigned shard_index, unsigned shard_count,
                                    uint64_t rules_hash, uint64_t context_hash)
{
    uint64_t h = FNV_OFFSET;
    h = hash_number(h, "command", o->command);
    h = hash_field(h, "output", o->output);
    h = hash_number(h, "all-org-events", o->all_org_events);
    h = hash_number(h, "raw", o->raw);
    h = hash_number(h, "validate", o->validate);
    h = hash_number(h, "max-record", (long long)o->max_record);
    h = hash_when(h, "since", o->has_since, o->since_relative, o->since_text, o->since);
    h = hash_when(h, "until", o->has_until, o->until_relative, o->until_text, o->until);
    h = hash_number(h, "key-slack", o->key_slack);
    h = hash_list(h, "accounts", o->accounts, o->naccounts);
    h = hash_list(h, "regions", o->regions, o->nregions);
    h = hash_number(h, "org-regions", o->org_regions);
    h = hash_field(h, "files-from", o->files_from);
    if (o->files_from_base)    /* only when given: the checkpoints of runs without it still fit */
        h = hash_field(h, "files-from-base", o->files_from_base);
    if (o->endpoint_url)
        h = hash_field(h, "endpoint-url", o->endpoint_url);
    h = hash_number(h, "no-dedupe", o->no_dedupe);
    h = hash_list(h, "rules", o->rule_paths, o->nrule_paths);
    h = hash_number(h, "no-builtin", o->no_builtin);
    h = hash_list(h, "paths", o->paths, o->npaths);
    h = hash_number(h, "shard-index", shard_index);
    h = hash_number(h, "shard-count", shard_count);
    h = hash_number(h, "format-ocsf", o->format == 1);
    h = hash_number(h, "min-severity", o->min_severity);
    h = hash_field(h, "correlation-state", o->correlation_state);
    h = hash_number(h, "max-correlation-matches", (long long)o->max_correlation_matches);
    h = hash_list(h, "org-inventory", o->inventories, o->ninventories);
    h = hash_list(h, "trusted-principal", o->trusted, o->ntrusted);
    h = hash_bytes(h, &context_hash, sizeof context_hash);   /* what the files held */
    return hash_bytes(h, &rules_hash, sizeof rules_hash);
}

/* run_options.progress: 0 off, 1 a terminal line, 2 plain periodic lines. */
static int progress_mode(const cli_options *o)
{
    int tty = isatty(STDERR_FILENO);
    if (o->quiet || o->progress == 0)
        return 0;
    if (o->progress > 0)
        return tty ? 1 : 2;
    return tty ? 1 : 0;
}

/* The crash test's hook: kill -9 at an exact output byte, not at a time. */
static uint64_t crash_after_bytes(void)
{
    const char *v = getenv("ORGTRAIL_CRASH_AFTER_BYTES");
    return v ? strtoull(v, NULL, 10) : 0;
}

/* --shard auto: Kubernetes Indexed Jobs, then AWS Batch array jobs. */
static int shard_from_environment(const cli_options *o, unsigned *index, unsigned *count)
{
    const char *k8s = getenv("JOB_COMPLETION_INDEX");
    const char *batch = getenv("AWS_BATCH_JOB_ARRAY_INDEX");
    const char *idx = k8s ? k8s : batch;
    const char *cnt = NULL;
    char from_option[16];
    if (k8s) {
        cnt = getenv("ORGTRAIL_SHARD_COUNT");
        if (o->shard_count_opt) {
            snprintf(from_option, sizeof from_option, "%u", o->shard_count_opt);
            cnt = from_option;
        }
    } else if (batch) {
        cnt = getenv("AWS_BATCH_JOB_ARRAY_SIZE");
    }
    if (!idx || !cnt) {
        ot_say(stderr, "orgtrail: --shard auto: set JOB_COMPLETION_INDEX with --shard-count or "
                       "ORGTRAIL_SHARD_COUNT (Kubernetes), or AWS_BATCH_JOB_ARRAY_INDEX and "
                       "AWS_BATCH_JOB_ARRAY_SIZE (AWS Batch)\n");
        return -1;
    }
    char *end1, *end2;
    unsigned long i = strtoul(idx, &end1, 10), n = strtoul(cnt, &end2, 10);
    if (*idx == '\0' || *end1 || *cnt == '\0' || *end2 || n == 0 || i >= n) {
        ot_say(stderr, "orgtrail: --shard auto: bad shard %s of %s\n", idx, cnt);
        return -1;
    }
    *index = (unsigned)i;
    *count = (unsigned)n;
    return 0;
}

/* ---- the views: scan's table and --summary, and the summary and report
 * commands, all over finding lines ---------------------------------------- */

typedef struct {
    summary *sum;       /* --summary, or NULL */
    table *tab;         /* the terminal table, or NULL */
} scan_views;

static void view_observe(void *arg, const char *lines, size_t len)
{
    scan_views *v = arg;
    if (v->sum)
        summary_add_lines(v->sum, lines, len);
}

static int view_render(void *arg, const char *lines, size_t len, ot_buf *out)
{
    return table_render(((scan_views *)arg)->tab, lines, len, out);
}

/* The terminal's width: stdout's, else $COLUMNS, else 120. */
static size_t terminal_columns(void)
{
    struct winsize ws;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col;
    const char *c = getenv("COLUMNS");
    long n = c ? strtol(c, NULL, 10) : 0;
    return n > 0 && n < 10000 ? (size_t)n : 120;
}

/* --color: auto colours a terminal unless NO_COLOR is set (no-color.org). */
static int use_color(const cli_options *o)
{
    if (o->color == 1)
        return 1;
    if (o->color == 2)
        return 0;
    const char *no = getenv("NO_COLOR");
    return isatty(STDOUT_FILENO) && !(no && no[0]);
}

/* Feeds every line of one findings file (NULL: stdin) to the summary.
 * Returns 0, or 1 when it could not be read or held lines that are not
 * findings (said on stderr, once a file, with the first such line). */
static int summarize_file(summary *sum, const char *path)
{
    const char *name = path ? path : "<stdin>";
    FILE *f = path ? fopen(path, "r") : stdin;
    if (!f) {
        ot_say(stderr, "orgtrail: %s: %s\n", name, strerror(errno));
        return 1;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    uint64_t lineno = 0, offset = 0, bad = 0, first_bad = 0, first_bad_at = 0;
    int rc = 0;
    while ((n = getline(&line, &cap, f)) > 0) {
        lineno++;
        size_t len = (size_t)n;
        if (line[len - 1] == '\n')
            len--;
        int r = summary_add(sum, line, len);
        if (r < 0) {
            ot_say(stderr, "orgtrail: %s: out of memory at line %llu\n", name, (unsigned long long)lineno);
            rc = 1;
            break;
        }
        if (r > 0 && len > 0 && bad++ == 0) {
            first_bad = lineno;
            first_bad_at = offset;
        }
        offset += (uint64_t)n;
    }
    if (ferror(f)) {
        ot_say(stderr, "orgtrail: %s: %s at byte %llu\n", name, strerror(errno), (unsigned long long)offset);
        rc = 1;
    }
    if (bad) {
        ot_say(stderr, "orgtrail: %s: %llu lines are not findings, the first at line %llu (byte %llu)\n", name,
               (unsigned long long)bad, (unsigned long long)first_bad, (unsigned long long)first_bad_at);
        rc = 1;
    }
    free(line);
    if (path)
        fclose(f);
    return rc;
}

static int run_views(const cli_options *o)
{
    summary *sum = summary_create();
    if (!sum) {
        ot_say(stderr, "orgtrail: out of memory\n");
        return 1;
    }
    int status = 0;
    for (size_t i = 0; i < o->npaths; i++)
        status |= summarize_file(sum, strcmp(o->paths[i], "-") == 0 ? NULL : o->paths[i]);
    if (o->npaths == 0)
        status |= summarize_file(sum, NULL);
    if (o->command == CLI_SUMMARY) {
        if (o->json && summary_print_json(sum, stdout)) {
            ot_say(stderr, "orgtrail: summary: %s\n", strerror(errno));
            status = 1;
        } else if (!o->json)
            summary_print_text(sum, stdout);
    } else {
        FILE *out = o->output ? fopen(o->output, "w") : stdout;
        if (!out) {
            ot_say(stderr, "orgtrail: %s: %s\n", o->output, strerror(errno));
            status = 1;
        } else {
            if (report_write(sum, out) || fflush(out)) {
                ot_say(stderr, "orgtrail: %s: %s\n", o->output ? o->output : "<stdout>", strerror(errno));
                status = 1;
            }
            if (o->output && fclose(out)) {
                ot_say(stderr, "orgtrail: %s: %s\n", o->output, strerror(errno));
                status = 1;
            }
        }
    }
    if (fflush(stdout))
        status = 1;
    summary_free(sum);
    return status;
}

/* orgtrail correlate: the state files into correlation findings. */
static int correlate_main(const cli_options *o, const rules *r)
{
    correlate_options co = {
        .paths = o->paths,
        .npaths = o->npaths,
        .output = o->output,
        .rules = r,
        .format = o->format == 1 ? FINDING_OCSF : FINDING_NDJSON,
        .min_severity = (severity)o->min_severity,
        .dedupe = !o->no_dedupe,
        .max_matches = o->max_correlation_matches,
    };
    run_report rep;
    int rc = run_correlate(&co, &rep, stderr);
    if (o->stats)
        run_print_stats(&rep, stderr);
    return rc < 0 || rep.stats.errors > 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
    cli_options o;
    int status = 0;
    rules *rule_list = NULL;
    org_context *org = NULL;
    FILE *stats_out = NULL;

    /* A closed stdout must end the run quietly, not kill it. */
    signal(SIGPIPE, SIG_IGN);
    if (argc > 1 && strcmp(argv[1], "verify") == 0)
        return verify_main(argc, argv);

    if (cli_parse(argc, argv, &o) != 0) {
        ot_say(stderr, "orgtrail: %s\n", o.error);
        cli_free(&o);
        return 2;
    }
    switch (o.command) {
    case CLI_HELP:
        fputs(o.help ? o.help : cli_usage(), stdout);
        goto out;
    case CLI_VERSION:
        print_version();
        goto out;
    case CLI_SUMMARY:
    case CLI_REPORT:
        status = run_views(&o);
        goto out;
    case CLI_RULES:
    case CLI_RULES_CHECK:
    case CLI_RULES_TEST:
    case CLI_SCAN:
    case CLI_CORRELATE:
        break;
    }
    load_report lr = { .quiet = o.quiet, .verbose = o.command == CLI_RULES_CHECK };
    if (o.command == CLI_RULES_CHECK)
        o.no_builtin = 1;
    const char *const *needles;
    size_t nneedles;
    int parse_all;
    rule_list = load_rules(&o, &lr, &needles, &nneedles, &parse_all);
    if (!rule_list) {
        status = 2;
        goto out;
    }
    if (o.command == CLI_RULES) {
        print_rules(rule_list, !o.no_builtin);
        goto out;
    }
    if (o.command == CLI_RULES_CHECK) {
        status = lr.unsupported || lr.bad_files ? 1 : 0;
        goto out;
    }
    if (o.command == CLI_CORRELATE) {
        status = correlate_main(&o, rule_list);
        goto out;
    }

    int context_failed;
    org = load_context(&o, &context_failed);
    if (context_failed) {
        status = 2;
        goto out;
    }
    unsigned shard_index = o.shard_index, shard_count = o.shard_count;
    if (o.shard_auto && shard_from_environment(&o, &shard_index, &shard_count)) {
        status = 2;
        goto out;
    }
    run_options ro = {
        .paths = o.paths,
        .npaths = o.npaths,
        .output = o.output,
        .scan = {
            .all_org_events = o.all_org_events,
            .raw = o.raw,
            .format = o.format == 1 ? FINDING_OCSF : FINDING_NDJSON,
            .min_severity = (severity)o.min_severity,
            .context = org,
            .validate = o.validate,
            .max_record = o.max_record,
            .window = 4u << 20,
            .rules = rule_list,
            .needles = needles,
            .nneedles = nneedles,
            .parse_all = parse_all,
            .no_dedupe_keys = o.no_dedupe,
            .has_since = o.has_since,
            .has_until = o.has_until,
            .since = o.since,
            .until = o.until,
        },
        .workers = o.workers,
        .io_depth = o.io_depth,
        .s3_concurrency = o.s3_concurrency,
        .endpoint_url = o.endpoint_url,
        .io = o.io == 1 ? READER_IO_URING : o.io == 2 ? READER_IO_SYNC : READER_IO_AUTO,
        .quiet = o.quiet,
        .walk = {
            .has_since = o.has_since,
            .has_until = o.has_until,
            .since = o.since,
            .until = o.until,
            .key_slack = o.key_slack,
            .accounts = o.accounts,
            .naccounts = o.naccounts,
            .regions = o.regions,
            .nregions = o.nregions,
            .org_regions = o.org_regions,
            .shard_index = shard_index,
            .shard_count = shard_count,
            .files_from = o.files_from,
            .files_from_base = o.files_from_base,
        },
        .part_size = o.part_size,
        .checkpoint = o.checkpoint,
        .checkpoint_interval = o.checkpoint_interval,
        .fingerprint = command_fingerprint(&o, shard_index, shard_count, rules_sources_hash(rule_list),
                                          context_hash(org)),
        .progress = progress_mode(&o),
        .dedupe = !o.no_dedupe,
        .crash_after_bytes = crash_after_bytes(),
        .correlation_state = o.correlation_state,
        .max_correlation_matches = o.max_correlation_matches,
    };
    if (!ro.workers)
        ro.workers = ot_cpus();
    /* Opened before the run, so a bad FILE costs no scan; it is an output
     * that cannot be written, hence exit 1 like -o. */
    if (o.stats_file) {
        stats_out = fopen(o.stats_file, "w");
        if (!stats_out) {
            ot_say(stderr, "orgtrail: %s: %s\n", o.stats_file, strerror(errno));
            status = 1;
            goto out;
        }
    }
    if (o.command == CLI_SCAN && o.npaths == 0 && !o.files_from && !o.quiet && isatty(STDIN_FILENO))
        ot_say(stderr, "orgtrail: reading CloudTrail from stdin (a terminal); give a PATH, or pipe logs in; "
                       "Ctrl-D ends\n");
    /* a table for a person at a terminal; a pipe or a file gets NDJSON */
    int table_view = o.format == 2 || (o.format == -1 && !o.output && isatty(STDOUT_FILENO));
    scan_views views = { 0 };
    emit_view view = { .observe = view_observe, .render = table_view ? view_render : NULL, .arg = &views };
    if (o.summary && !(views.sum = summary_create())) {
        status = 1;
        goto out;
    }
    if (table_view && !(views.tab = table_create(terminal_columns(), use_color(&o)))) {
        summary_free(views.sum);
        status = 1;
        goto out;
    }
    if (views.sum || views.tab)
        ro.view = &view;
    run_report rep;
    int rc = run_scan(&ro, &rep, stderr);
    if (views.sum) {
        summary_print_text(views.sum, stderr);
        summary_free(views.sum);
    }
    table_free(views.tab);
    if (rep.refused) {
        status = 2;    /* a checkpoint that does not fit: run_scan said why */
    } else if (rc < 0) {
        status = 1;    /* run_scan said why */
    } else if (rep.stats.errors > 0) {
        status = 1;
    }
    if (o.stats)
        run_print_stats(&rep, stderr);
    if (stats_out) {
        run_print_stats(&rep, stats_out);
        int bad = ferror(stats_out);
        bad |= fclose(stats_out) != 0;
        stats_out = NULL;
        if (bad) {
            ot_say(stderr, "orgtrail: %s: could not be written\n", o.stats_file);
            status = 1;
        }
    }
out:
    if (stats_out)
        fclose(stats_out);
    fflush(stdout);
    rules_free(rule_list);
    context_free(org);
    cli_free(&o);
    return status;
}
