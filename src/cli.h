/*
 * cli: argv -> options. No I/O and no engine knowledge: main.c turns the
 * options into the engine's own structs.
 */
#ifndef ORGTRAIL_CLI_H
#define ORGTRAIL_CLI_H

#include <stddef.h>
#include <stdint.h>

enum cli_command {
    CLI_SCAN,
    CLI_RULES,          /* rules, rules list */
    CLI_RULES_CHECK,    /* rules check PATH... */
    CLI_RULES_TEST,     /* rules test PATH EVENTS... */
    CLI_SUMMARY,        /* summary [--json] [FILE...] */
    CLI_REPORT,         /* report [-o FILE] [FILE...] */
    CLI_CORRELATE,      /* correlate --rules R [options] STATE... */
    CLI_HELP,
    CLI_VERSION,
};

typedef struct {
    enum cli_command command;
    const char **paths;       /* PATH arguments, borrowed from argv; "-" is stdin */
    size_t npaths;            /* 0: read stdin */
    const char *output;       /* -o FILE, or NULL for stdout (also -o -) */
    int all_org_events;
    int raw;
    int stats;
    const char *stats_file;   /* --stats-file FILE, or NULL */
    int validate;
    int quiet;
    size_t max_record;        /* bytes */
    unsigned workers;         /* -j; 0: one per online CPU */
    unsigned io_depth;        /* --io-depth: files in flight */
    unsigned s3_concurrency;  /* --s3-concurrency: S3 objects in flight (default 128) */
    const char *endpoint_url; /* --endpoint-url, or NULL (AWS_ENDPOINT_URL_S3, AWS's) */
    size_t part_size;         /* --part-size: compressed bytes a part of stdin; 0: no parts */
    int io;                   /* --io: 0 auto, 1 uring, 2 sync (reader_io's order) */
    int has_since, has_until;
    int64_t since, until;     /* seconds since 1970 UTC; until exclusive (a bare date: the day after) */
    const char *since_text, *until_text; /* as given, borrowed from argv */
    int since_relative, until_relative;  /* given as a duration back from now (7d) */
    int64_t key_slack;        /* seconds; --key-slack, default 3600 */
    const char **accounts;    /* --accounts A,B: split, NULL-free list */
    size_t naccounts;
    const char **regions;
    size_t nregions;
    int org_regions;
    const char *checkpoint;
    double checkpoint_interval; /* seconds between checkpoints; default 1 */
    int has_checkpoint_interval;
    int shard_auto;           /* --shard auto: main reads the environment */
    unsigned shard_index, shard_count;   /* --shard I/N; count 0: none */
    unsigned shard_count_opt; /* --shard-count N, for --shard auto */
    const char *files_from;
    const char *files_from_base;  /* --files-from-base: put before each listed path, or NULL */
    int progress;             /* -1 default (when stderr is a terminal), 1 --progress, 0 off (-q, --no-progress) */
    int no_dedupe;
    const char **rule_paths;  /* --rules PATH, repeatable (rules check/test: the PATH) */
    size_t nrule_paths;
    int no_builtin;
    const char **inventories; /* --org-inventory FILE, repeatable */
    size_t ninventories;
    const char **trusted;     /* --trusted-principal GLOB, repeatable */
    size_t ntrusted;
    int min_severity;         /* --min-severity: 0 info (default) .. 4 critical (rules.h's severity) */
    int format;               /* --format: -1 auto (a table on a terminal, else ndjson), 0 ndjson, 1 ocsf, 2 table */
    int color;                /* --color: 0 auto, 1 always, 2 never */
    int summary;              /* scan --summary: the summary on stderr at the end */
    int json;                 /* summary --json */
    const char *correlation_state;  /* scan --correlation-state FILE, or NULL */
    uint64_t max_correlation_matches; /* --max-correlation-matches N; default 10,000,000 */
    const char *help;         /* CLI_HELP: the usage text to print (the command's own) */
    char error[320];          /* the usage error, when cli_parse fails */
} cli_options;

/* Fills o from argv (getopt_long: --opt=value or --opt value, options
 * anywhere, -- ends them). Relative times (--since 7d) are resolved against
 * the clock once, here. Returns 0, or -1 with o->error set (a usage error).
 * o->paths, accounts and regions point into lists that cli_free() releases;
 * the strings are argv's, which cli_parse may reorder and split in place. */
int cli_parse(int argc, char **argv, cli_options *o);
void cli_free(cli_options *o);

/* The whole --help text (o->help holds a command's own). */
const char *cli_usage(void);

/* ---- orgtrail verify ---------------------------------------------------- */

/* The options of `orgtrail verify` (its own struct: it shares no state with
 * the scan options). Lists are freed by cli_verify_free. */
typedef struct {
    const char **paths;       /* PATH arguments, borrowed from argv */
    size_t npaths;
    const char *public_keys;  /* --public-keys FILE, or NULL */
    const char *signatures;   /* --signatures FILE, or NULL */
    int has_since, has_until;
    int64_t since, until;     /* as cli_options */
    int64_t key_slack;        /* seconds, default 3600 */
    const char **accounts;
    size_t naccounts;
    const char **regions;
    size_t nregions;
    unsigned workers;         /* -j; 0: one per online CPU */
    unsigned io_depth;
    int io;                   /* 0 auto, 1 uring, 2 sync */
    int quiet;
    unsigned s3_concurrency;  /* --s3-concurrency; 0: 128 */
    const char *endpoint_url; /* --endpoint-url, or NULL */
    const char *help;         /* set by --help: the text to print */
    char error[320];
} cli_verify_options;

/* Fills o from `orgtrail verify ...` (argv[1] is "verify"). Returns 0
 * (o->help set for --help), or -1 with o->error set (a usage error). */
int cli_parse_verify(int argc, char **argv, cli_verify_options *o);
void cli_verify_free(cli_verify_options *o);

#endif
