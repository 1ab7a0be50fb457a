/*
 * fuzz_sigma: Sigma loading from YAML text into a fresh set, then every
 * loaded rule is evaluated against a few fixed events and its accessors
 * read. One property is checked, not just the absence of crashes: a rule
 * that matches an event must contain one of its needles in the raw record
 * (case-insensitive), or have none (sigma.h); a needle it does not hold
 * would make the prefilter drop a record the rule matches. The events are
 * minified and free of escapes, so raw text and parsed text agree.
 * Then the set is linked: the correlations kept must be whole (rules, a
 * timespan, fields for every rule).
 */
#include "fuzz_common.h"
#include "parse.h"
#include "sigma.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char *const events[] = {
    "{\"eventVersion\":\"1.09\",\"userIdentity\":{\"type\":\"Root\",\"principalId\":\"222222222222\","
    "\"arn\":\"arn:aws:iam::222222222222:root\",\"accountId\":\"222222222222\",\"accessKeyId\":"
    "\"ASIAEXAMPLEROOT0001\"},\"eventTime\":\"2024-03-01T10:00:02Z\",\"eventSource\":"
    "\"organizations.amazonaws.com\",\"eventName\":\"LeaveOrganization\",\"awsRegion\":\"us-east-1\","
    "\"sourceIPAddress\":\"198.51.100.7\",\"userAgent\":\"aws-cli/2.15.0 Python/3.11.6\","
    "\"requestParameters\":null,\"responseElements\":null,\"requestID\":\"r-1\",\"eventID\":\"e002\","
    "\"readOnly\":false,\"eventType\":\"AwsApiCall\",\"managementEvent\":true,\"recipientAccountId\":"
    "\"222222222222\",\"eventCategory\":\"Management\"}",
    "{\"eventVersion\":\"1.08\",\"userIdentity\":{\"type\":\"AssumedRole\",\"arn\":"
    "\"arn:aws:sts::111111111111:assumed-role/OrgAdmin/alice\",\"sessionContext\":{\"sessionIssuer\":"
    "{\"type\":\"Role\",\"userName\":\"OrgAdmin\"},\"attributes\":{\"mfaAuthenticated\":\"false\"}}},"
    "\"eventTime\":\"2024-03-01T10:15:00Z\",\"eventSource\":\"s3.amazonaws.com\",\"eventName\":\"GetObject\","
    "\"awsRegion\":\"eu-west-1\",\"sourceIPAddress\":\"10.1.2.3\",\"errorCode\":\"AccessDenied\","
    "\"errorMessage\":\"Access Denied\",\"requestParameters\":{\"bucketName\":\"logs\",\"key\":\"a/b.txt\","
    "\"sizes\":[1,2,3]},\"resources\":[{\"ARN\":\"arn:aws:s3:::logs\",\"type\":\"AWS::S3::Bucket\"}],"
    "\"readOnly\":true,\"eventID\":\"e003\",\"recipientAccountId\":\"111111111111\"}",
};
#define NEVENTS (sizeof events / sizeof events[0])

static int has_nocase(const char *hay, const char *needle)
{
    size_t hn = strlen(hay), nn = strlen(needle);
    for (size_t i = 0; nn <= hn && i <= hn - nn; i++) {
        size_t j = 0;
        while (j < nn) {
            unsigned char a = (unsigned char)hay[i + j], b = (unsigned char)needle[j];
            if (a >= 'A' && a <= 'Z')
                a |= 0x20;
            if (b >= 'A' && b <= 'Z')
                b |= 0x20;
            if (a != b)
                break;
            j++;
        }
        if (j == nn)
            return 1;
    }
    return 0;
}

static void on_report(void *arg, const char *source, const char *rule_name, sigma_status status,
                      const char *reason)
{
    (void)arg;
    FUZZ_ASSERT(source && strcmp(source, "fuzz.yml") == 0, "report names another source");
    if (status == SIGMA_UNSUPPORTED)
        FUZZ_ASSERT(reason && reason[0], "an unsupported rule without a reason");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static parse_ctx *ev[NEVENTS];
    if (!ev[0]) {
        for (size_t i = 0; i < NEVENTS; i++) {
            char err[128];
            size_t off;
            ev[i] = parse_create();
            FUZZ_ASSERT(ev[i] && parse_record(ev[i], events[i], strlen(events[i]), PARSE_KIND_EVENT, err,
                                              sizeof err, &off) == 0,
                        "fixed event %zu does not parse", i);
        }
    }
    sigma_set *set = sigma_set_create();
    FUZZ_ASSERT(set, "out of memory");
    int n = sigma_load_text(set, "fuzz.yml", (const char *)data, size, on_report, NULL);
    FUZZ_ASSERT(n == -1 || (size_t)n == sigma_count(set), "loaded %d, count %zu", n, sigma_count(set));
    for (size_t i = 0; i < sigma_count(set); i++) {
        const sigma_rule *r = sigma_at(set, i);
        FUZZ_ASSERT(sigma_rule_id(r) && sigma_rule_title(r) && sigma_rule_description(r), "rule %zu: NULL text",
                    i);
        int level = sigma_rule_level(r);
        FUZZ_ASSERT(level >= 0 && level <= 4, "rule %zu: level %d", i, level);
        const char *vals[8];
        FUZZ_ASSERT(sigma_rule_values(r, "eventName", vals, 8) <= 8, "rule %zu: too many values", i);
        (void)sigma_rule_has_tag(r, "orgtrail.denied_one_level_lower");
        const char *const *needles = sigma_rule_needles(r);
        FUZZ_ASSERT(needles, "rule %zu: NULL needle list", i);
        for (size_t e = 0; e < NEVENTS; e++) {
            if (!sigma_rule_matches(r, ev[e]) || !needles[0])
                continue;
            int found = 0;
            for (size_t k = 0; needles[k] && !found; k++)
                found = has_nocase(events[e], needles[k]);
            if (!found)
                for (size_t k = 0; needles[k]; k++)
                    fprintf(stderr, "needle %zu: \"%s\"\n", k, needles[k]);
            FUZZ_ASSERT(found, "rule %zu (%s) matches event %zu but holds none of its needles", i,
                        sigma_rule_id(r), e);
        }
    }
    int kept = sigma_set_link(set, on_report, NULL);
    FUZZ_ASSERT(kept == -ENOMEM || (kept >= 0 && (size_t)kept == sigma_correlation_count(set)),
                "linked %d, count %zu", kept, sigma_correlation_count(set));
    for (size_t i = 0; i < sigma_correlation_count(set); i++) {
        const sigma_correlation *c = sigma_correlation_at(set, i);
        FUZZ_ASSERT(c && c->id && c->nrules >= 1 && c->rules && c->timespan_ms > 0, "correlation %zu: not whole", i);
        FUZZ_ASSERT(c->ngroup == 0 || c->group_fields, "correlation %zu: no group fields", i);
        FUZZ_ASSERT(c->type != SIGMA_CORR_VALUE_COUNT || c->value_fields, "correlation %zu: no value fields", i);
        for (size_t k = 0; k < c->nrules; k++)
            FUZZ_ASSERT(c->rules[k], "correlation %zu: rule %zu unresolved", i, k);
    }
    sigma_set_free(set);
    return 0;
}
