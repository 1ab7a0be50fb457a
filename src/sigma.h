/*
 * sigma: Sigma rules for CloudTrail (the format of SigmaHQ and
 * Yamato-Security's suzaku-rules), parsed with libyaml and compiled into a
 * matcher over one parsed event, plus the literals every match must contain,
 * which become the prefilter's needles.
 *
 * Supported: title, id, status, description, references, tags,
 * falsepositives, level; logsource product aws / service cloudtrail;
 * detection with named selections (a map is an AND of fields, a list of maps
 * an OR, a list of values an OR, bare values are keywords searched in the
 * whole event); dotted field paths; null; the modifiers contains, startswith,
 * endswith, all, re (PCRE2, with i, m, s), exists, cidr, fieldref (the value
 * names another field of the event, whose value must equal this one's,
 * ignoring ASCII case; with contains, startswith, endswith, all); the
 * wildcards * and ? with Sigma's backslash escapes; case-insensitive
 * matching; conditions with and, or, not, parentheses, "1 of X*", "all of
 * X*", "1 of them", "all of them"; correlation rules (below). Anything else
 * (aggregations, other modifiers) makes the rule unsupported: it is reported
 * with the reason and skipped, the rest load.
 *
 * A rule file is hostile input: a rule that expands past 100,000 values (YAML
 * aliases count each time they are used) or 4 MiB, nests its condition
 * deeper than 64 levels or names more than 10,000 terms, or has a regex
 * PCRE2 rejects, is unsupported. A regex match that passes PCRE2's match
 * limits (1,000,000 backtracks, depth 10,000, 8 MiB of heap, JIT stack
 * 32 KiB) counts as no match.
 */
#ifndef ORGTRAIL_SIGMA_H
#define ORGTRAIL_SIGMA_H

#include <stddef.h>
#include <stdint.h>

#include "parse.h"

typedef struct sigma_rule sigma_rule;
typedef struct sigma_set sigma_set;

/*
 * What happened to one rule of a source: loaded, skipped (another
 * logsource) or unsupported (with the reason); or SIGMA_BAD_FILE: the
 * source itself cannot be read or is not YAML, rule_name is then the line
 * of the problem ("7") or NULL, and the reason says what ("YAML error:
 * mapping values are not allowed in this context", "cannot read: ...").
 * Names and reasons have their control bytes replaced by '?'.
 */
typedef enum { SIGMA_LOADED, SIGMA_SKIPPED, SIGMA_UNSUPPORTED, SIGMA_BAD_FILE } sigma_status;
typedef void (*sigma_report_fn)(void *arg, const char *source, const char *rule_name, sigma_status status,
                                const char *reason);

/* Returns NULL when out of memory. */
sigma_set *sigma_set_create(void);
/* Accepts NULL. */
void sigma_set_free(sigma_set *set);

/*
 * Loads every rule in text (len bytes of YAML, one or more documents);
 * source names it in reports. report (may be NULL) hears about each rule,
 * except a correlation that compiles: sigma_set_link reports that one, once
 * its references are resolved. Returns the number of rules loaded (what
 * sigma_count gains; correlations are not counted), or -1 when the YAML
 * itself does not parse (reported as SIGMA_BAD_FILE; the documents before
 * the error stay loaded).
 */
int sigma_load_text(sigma_set *set, const char *source, const char *text, size_t len, sigma_report_fn report,
                    void *arg);
/* A .yml/.yaml file, or a directory walked for them (in name order, hidden
 * names left out, a link back to a parent directory reported). Returns the
 * number loaded, or -1 if path or some file under it cannot be read or is
 * not YAML (each reported as SIGMA_BAD_FILE; the other files still load). */
int sigma_load_path(sigma_set *set, const char *path, sigma_report_fn report, void *arg);
/* As sigma_load_path, with threads threads (the calling one counts; 0: one
 * per CPU the process may run on; at most 8) reading and YAML-parsing a
 * directory's files ahead of their compile. The compile and every report stay on the calling
 * thread, in the serial order: rules, reports and sources hash are the same
 * for any threads. sigma_load_path is this with 0. */
int sigma_load_path_threads(sigma_set *set, const char *path, unsigned threads, sigma_report_fn report,
                            void *arg);

size_t sigma_count(const sigma_set *set);
/* A hash of every source name and text loaded so far, in order: what a
 * checkpoint must see unchanged. */
uint64_t sigma_sources_hash(const sigma_set *set);
const sigma_rule *sigma_at(const sigma_set *set, size_t i);

const char *sigma_rule_id(const sigma_rule *r);      /* id, or title when it has none */
const char *sigma_rule_title(const sigma_rule *r);
/* level: informational=0, low=1, medium=2, high=3, critical=4 (severity's order). */
int sigma_rule_level(const sigma_rule *r);
const char *sigma_rule_description(const sigma_rule *r);   /* "" when it has none */
/* The plain values (no modifier, no wildcard) the rule compares field with,
 * up to max of them, for listings. Returns how many. */
size_t sigma_rule_values(const sigma_rule *r, const char *field, const char **out, size_t max);
/* 1 when the rule carries the tag (case-insensitive). */
int sigma_rule_has_tag(const sigma_rule *r, const char *tag);

/* 1 when the current event of ev matches the rule. */
int sigma_rule_matches(const sigma_rule *r, parse_ctx *ev);

/*
 * The literals one of which every match must contain in the raw record
 * (case-insensitive), as a NULL-terminated list; an empty list means the rule
 * has no such literal (it is unanchored: every record must be parsed).
 */
const char *const *sigma_rule_needles(const sigma_rule *r);

/*
 * The field the rule can be indexed by: "eventName" when every event the
 * rule matches has an eventName equal to one of a few plain values
 * (ignoring ASCII case, as Sigma compares), else "eventSource" when that
 * holds of it, else NULL (the rule must be tried on every event). *values
 * is then those values, a NULL-terminated list (NULL when no field).
 * Both live as long as the set; the field is the very pointer the rule's
 * own lookups pass to parse_get (whose cache is keyed by pointer).
 */
const char *sigma_rule_index(const sigma_rule *r, const char *const **values);
/* The position in the set (sigma_at) of an earlier rule whose detection is
 * the same as r's, so that its answer for a record is r's too; SIZE_MAX when
 * there is none. */
size_t sigma_rule_twin(const sigma_rule *r);

/*
 * Correlation rules (Sigma specification 2.0, "Sigma Correlation Rules"):
 * a document with a `correlation` map. Loaded with the rules, linked to the
 * rules they reference by sigma_set_link once every source is loaded.
 *
 * The document: title (required), id, name, description, level, and
 * logsource (none, or aws/cloudtrail; another is skipped); no detection.
 * correlation: type; rules (one to 64 references); group-by (up to 16
 * names; none: one group); timespan (digits and s, m, h or d, more than 0,
 * at most 100 years); condition (gt, gte, lt, lte, eq, up to 5, all of
 * which must hold, each a count up to 10^12; field, the counted field, for
 * value_count and only there; required for event_count and value_count; the
 * temporal types need every rule, so a condition there must mean exactly
 * that, gte: N for N rules, and is then dropped); generate (true or false,
 * in correlation or beside it; default false); aliases ({alias: {rule:
 * field}}, up to 256 entries). Unknown keys in correlation are unsupported.
 *
 * A reference names a rule by id, name or title: first among the documents
 * of the correlation's own file, then in the whole set, each by id, then
 * name, then title. It is unsupported when nothing answers (a skipped or
 * unsupported rule is not loaded), when two rules answer at the same step
 * (ambiguous), when a correlation answers (a correlation of correlations is
 * not supported), or when two references name one rule. An alias's rule is
 * a reference as the correlation writes it, or the rule's id, name or
 * title; a group-by name (or condition.field) that is an alias must have an
 * entry for every referenced rule.
 */
typedef enum {
    SIGMA_CORR_EVENT_COUNT,
    SIGMA_CORR_VALUE_COUNT,
    SIGMA_CORR_TEMPORAL,
    SIGMA_CORR_TEMPORAL_ORDERED,
} sigma_corr_type;

typedef enum { SIGMA_CMP_GT, SIGMA_CMP_GTE, SIGMA_CMP_LT, SIGMA_CMP_LTE, SIGMA_CMP_EQ } sigma_corr_cmp;

#define SIGMA_CORR_MAX_CONDS 5

typedef struct {
    const char *id;             /* id, or title when it has none */
    const char *title;
    int level;                  /* as sigma_rule_level */
    sigma_corr_type type;
    const sigma_rule *const *rules;   /* the referenced rules, in the correlation's order */
    size_t nrules;
    const char *const *group_by;      /* the group-by names, in order */
    size_t ngroup;
    /* group_fields[i * ngroup + g]: the event field whose value rule i's
     * matches give group-by name g (its alias for rule i, else the name);
     * interned: the very pointer to pass to parse_get. */
    const char *const *group_fields;
    /* value_count: value_fields[i] is the field counted in rule i's matches
     * (condition.field, through its alias for rule i); else NULL. */
    const char *const *value_fields;
    int64_t timespan_ms;
    /* all must hold of the count; event_count and value_count only
     * (temporal types need every rule instead) */
    struct {
        sigma_corr_cmp op;
        uint64_t value;
    } conds[SIGMA_CORR_MAX_CONDS];
    size_t nconds;
    int generate;               /* the referenced rules make findings of their own too */
    /* added after the first cut of this interface: */
    const char *name;           /* its `name`, or NULL */
    const char *description;    /* "" when it has none */
    const char *source;         /* the file it came from */
} sigma_correlation;

/* Resolves every loaded correlation's references (by id, name or title,
 * across all sources of the set). A correlation that names a rule the set
 * does not have, or is otherwise unusable, is reported as unsupported
 * (source = its file) and dropped. Call once, after the last load. Returns
 * the number of correlations kept, or -ENOMEM. */
int sigma_set_link(sigma_set *set, sigma_report_fn report, void *arg);
size_t sigma_correlation_count(const sigma_set *set);
const sigma_correlation *sigma_correlation_at(const sigma_set *set, size_t i);
/* 1 when the rule makes findings of its own: it is referenced by no
 * correlation, or by one with generate: true. Valid after sigma_set_link. */
int sigma_rule_generates(const sigma_rule *r);

#endif
