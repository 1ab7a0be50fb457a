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
#include <unistd.h>
#include <stdio.h>
#include <string.h>
#include <zstd.h>

#include "cli.h"
#include "decode.h"
#include "rules.h"
#include "run.h"

#ifndef ORGTRAIL_VERSION
#define ORGTRAIL_VERSION "dev"
#endif

static void print_version(void)
{
    printf("orgtrail %s (inflate: %s, zstd %s, simdjson, liburing)\n", ORGTRAIL_VERSION,
           decode_inflate_backend(), ZSTD_versionString());
}

static void print_rules(const rules *r)
{
    printf("id\tseverity\teventNames\trationale\n");
    for (size_t i = 0; i <= rules_count(r); i++) {
        const rule *ru = i < rules_count(r) ? rules_at(r, i) : rules_catch_all();
        printf("%s\t%s\t", ru->id, severity_name(ru->level));
        for (const char *const *n = ru->event_names; *n; n++)
            printf("%s%s", n == ru->event_names ? "" : ",", *n);
        printf("\t%s\n", ru->rationale);
    }
}

int main(int argc, char **argv)
{
    cli_options o;
    int status = 0;
    rules *builtin = NULL;

    /* A closed stdout must end the run quietly, not kill it. */
    signal(SIGPIPE, SIG_IGN);

    if (cli_parse(argc, argv, &o) != 0) {
        fprintf(stderr, "orgtrail: %s\n", o.error);
        cli_free(&o);
        return 2;
    }
    switch (o.command) {
    case CLI_HELP:
        fputs(cli_usage(), stdout);
        goto out;
    case CLI_VERSION:
        print_version();
        goto out;
    case CLI_RULES:
    case CLI_SCAN:
        break;
    }
    builtin = rules_load_builtin();
    if (!builtin) {
        fprintf(stderr, "orgtrail: out of memory\n");
        status = 1;
        goto out;
    }
    if (o.command == CLI_RULES) {
        print_rules(builtin);
        goto out;
    }

    run_options ro = {
        .paths = o.paths,
        .npaths = o.npaths,
        .output = o.output,
        .scan = {
            .all_org_events = o.all_org_events,
            .raw = o.raw,
            .validate = o.validate,
            .max_record = o.max_record,
            .window = 4u << 20,
            .rules = builtin,
        },
        .workers = o.workers,
        .io_depth = o.io_depth,
        .io = o.io == 1 ? READER_IO_URING : o.io == 2 ? READER_IO_SYNC : READER_IO_AUTO,
        .quiet = o.quiet,
    };
    if (!ro.workers) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        ro.workers = cpus > 0 ? (unsigned)cpus : 1;
    }
    run_report rep;
    int rc = run_scan(&ro, &rep, stderr);
    if (rc < 0) {
        status = 1;    /* run_scan said why */
    } else if (rep.stats.errors > 0) {
        status = 1;
    }
    if (o.stats)
        run_print_stats(&rep, stderr);
out:
    fflush(stdout);
    rules_free(builtin);
    cli_free(&o);
    return status;
}
