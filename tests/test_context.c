/*
 * context (inventory, trusted principals), the shim's array access the
 * inventory is read with, and finding.c's facts and severity on events.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "context.h"
#include "finding.h"
#include "parse.h"

static char dir[] = "/tmp/orgtrail-test-context-XXXXXX";

static const char *write_file(const char *name, const char *text)
{
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    return path;
}

static int is(const char *got, const char *want)
{
    return got && want ? strcmp(got, want) == 0 : got == want;
}

static void test_arrays(void)
{
    check_context = "parse arrays";
    parse_ctx *pc = parse_create();
    const char *doc = "{\"a\":{\"list\":[{\"Id\":\"x\",\"n\":{\"m\":1}},7,{\"Id\":\"y\"}]},\"s\":\"str\"}";
    char err[100];
    size_t off;
    CHECK(parse_record(pc, doc, strlen(doc), PARSE_KIND_EVENT, err, sizeof err, &off) == 0);
    CHECK(parse_array_len(pc, "a.list") == 3);
    CHECK(parse_array_len(pc, "s") == -1);
    CHECK(parse_array_len(pc, "nope") == -1);
    ot_slice v;
    CHECK(parse_get_element(pc, "a.list", 0, "Id", &v) == PARSE_STRING && v.len == 1 && v.ptr[0] == 'x');
    CHECK(parse_get_element(pc, "a.list", 0, "n.m", &v) == PARSE_NUMBER && v.len == 1 && v.ptr[0] == '1');
    CHECK(parse_get_element(pc, "a.list", 1, "Id", &v) == PARSE_ABSENT);      /* not an object */
    CHECK(parse_get_element(pc, "a.list", 1, NULL, &v) == PARSE_NUMBER && v.len == 1 && v.ptr[0] == '7');
    CHECK(parse_get_element(pc, "a.list", 2, "Id", &v) == PARSE_STRING && v.ptr[0] == 'y');
    CHECK(parse_get_element(pc, "a.list", 3, "Id", &v) == PARSE_ABSENT);      /* past the end */
    CHECK(parse_get_element(pc, "s", 0, "Id", &v) == PARSE_ABSENT);
    /* a path built on the fly, reused with other text: no stale answer */
    char path[16];
    strcpy(path, "s");
    CHECK(parse_get_uncached(pc, path, &v) == PARSE_STRING && v.len == 3);
    strcpy(path, "a");
    CHECK(parse_get_uncached(pc, path, &v) == PARSE_OBJECT);
    parse_free(pc);
}

static void test_inventory(void)
{
    check_context = "inventory";
    org_context *c = context_create();
    char err[300];
    const char *p = write_file("policies.json",
        "{\"Policies\":[{\"Id\":\"p-1\",\"Type\":\"TAG_POLICY\"},{\"Id\":\"p-2\",\"Type\":\"SERVICE_CONTROL_POLICY\"},"
        "{\"Id\":\"p-1\",\"Type\":\"BACKUP_POLICY\"},{\"Id\":\"p-3\"},{\"Id\":4,\"Type\":\"X\"}]}");
    CHECK(context_load_inventory(c, p, err, sizeof err) == 3);     /* entries with a string Id and Type */
    p = write_file("accounts.json", "{\"Accounts\":[{\"Id\":\"222222222222\",\"Name\":\"Prod\"}],"
                                    "\"DelegatedAdministrators\":[{\"Id\":\"777777777777\",\"Name\":\"Sec\"}]}");
    CHECK(context_load_inventory(c, p, err, sizeof err) == 2);
    CHECK(is(context_policy_type(c, "p-1", 3), "TAG_POLICY"));     /* the first of two wins */
    CHECK(is(context_policy_type(c, "p-2", 3), "SERVICE_CONTROL_POLICY"));
    CHECK(context_policy_type(c, "p-3", 3) == NULL);
    CHECK(context_policy_type(c, "p-", 2) == NULL);
    CHECK(context_policy_type(c, "p-10", 4) == NULL);
    CHECK(is(context_account_name(c, "222222222222", 12), "Prod"));
    CHECK(is(context_account_name(c, "777777777777", 12), "Sec"));
    CHECK(context_account_name(c, "p-1", 3) == NULL);              /* tables are apart */
    uint64_t h = context_hash(c);

    p = write_file("empty.json", "{\"Policies\":[]}");
    CHECK(context_load_inventory(c, p, err, sizeof err) == 0);     /* a list, empty: not an error */
    CHECK(context_hash(c) == h);
    p = write_file("other.json", "{\"Roots\":[]}");
    CHECK(context_load_inventory(c, p, err, sizeof err) == -1 && strstr(err, "no Policies"));
    p = write_file("bad.json", "{\"Policies\":[");
    CHECK(context_load_inventory(c, p, err, sizeof err) == -1 && strstr(err, "not JSON"));
    CHECK(context_load_inventory(c, "/nonexistent/inv.json", err, sizeof err) == -1);
    context_free(c);
    context_free(NULL);
}

static void test_trusted(void)
{
    check_context = "trusted";
    org_context *c = context_create();
    const char *arn = "arn:aws:sts::111111111111:assumed-role/SecurityAutomation/lambda";
    CHECK(!context_is_trusted(c, arn, strlen(arn)));
    CHECK(context_add_trusted(c, "arn:aws:sts::*:assumed-role/SecurityAutomation/*") == 0);
    CHECK(context_is_trusted(c, arn, strlen(arn)));
    CHECK(!context_is_trusted(c, arn, strlen(arn) - 7));          /* ".../SecurityAutomation/" still */
    const char *other = "arn:aws:sts::111111111111:assumed-role/Intruder/x";
    CHECK(!context_is_trusted(c, other, strlen(other)));
    CHECK(!context_is_trusted(c, "arn\0x", 5));                     /* a NUL in it: no ARN */
    CHECK(!context_is_trusted(NULL, arn, strlen(arn)));
    char longer[2000];
    memset(longer, 'a', sizeof longer);
    const char *head = "arn:aws:sts::1:assumed-role/SecurityAutomation/";
    memcpy(longer, head, strlen(head));
    CHECK(context_is_trusted(c, longer, sizeof longer));           /* longer than the stack copy */
    CHECK(context_not_security_control("TAG_POLICY", 10));
    CHECK(context_not_security_control("CHATBOT_POLICY", 14));
    CHECK(!context_not_security_control("SERVICE_CONTROL_POLICY", 22));
    CHECK(!context_not_security_control("RESOURCE_CONTROL_POLICY", 23));
    CHECK(!context_not_security_control("TAG_POLICYX", 11));
    CHECK(!context_not_security_control("SOMETHING_NEW", 13));     /* unknown types never lower */
    context_free(c);
}

/* The severity finding.c gives rule level `level` on one event. */
static severity severity_of(const char *event, const org_context *c, severity level, char *note, size_t notelen)
{
    parse_ctx *pc = parse_create();
    char err[100];
    size_t off;
    severity s = (severity)-1;
    if (parse_record(pc, event, strlen(event), PARSE_KIND_EVENT, err, sizeof err, &off) == 0) {
        finding_options o = { .context = c };
        finding_record *r = finding_record_create(&o);
        rule ru = { .id = "t", .title = "t", .level = level, .lower_when_denied = 1 };
        if (finding_prepare(r, pc, "in", 0) == 0) {
            s = finding_severity(r, &ru);
            snprintf(note, notelen, "%s", finding_record_facts(r)->note);
        }
        finding_record_free(r);
    }
    parse_free(pc);
    return s;
}

static void test_severity(void)
{
    check_context = "severity";
    org_context *c = context_create();
    char err[300], note[256];
    const char *p = write_file("inv.json", "{\"Policies\":[{\"Id\":\"p-tag\",\"Type\":\"TAG_POLICY\"},"
                                           "{\"Id\":\"p-scp\",\"Type\":\"SERVICE_CONTROL_POLICY\"}]}");
    CHECK(context_load_inventory(c, p, err, sizeof err) == 2);
    CHECK(context_add_trusted(c, "arn:aws:iam::*:role/Sec") == 0);
#define ORG "\"eventSource\":\"organizations.amazonaws.com\","
    CHECK(severity_of("{" ORG "\"eventName\":\"DetachPolicy\",\"requestParameters\":{\"policyId\":\"p-tag\"}}", c,
                      SEV_HIGH, note, sizeof note) == SEV_LOW && strstr(note, "TAG_POLICY"));
    CHECK(severity_of("{" ORG "\"eventName\":\"DetachPolicy\",\"requestParameters\":{\"policyId\":\"p-scp\"}}", c,
                      SEV_HIGH, note, sizeof note) == SEV_HIGH && note[0] == '\0');
    CHECK(severity_of("{" ORG "\"eventName\":\"DetachPolicy\",\"requestParameters\":{\"policyId\":\"p-tag\"}}", c,
                      SEV_INFO, note, sizeof note) == SEV_INFO);    /* lowered, never raised */
    /* denied: one lower first, then at most low */
    CHECK(severity_of("{" ORG "\"eventName\":\"DeletePolicy\",\"errorCode\":\"AccessDenied\","
                      "\"requestParameters\":{\"policyId\":\"p-scp\"}}", c, SEV_HIGH, note, sizeof note) == SEV_MEDIUM);
    /* only the four policy calls are lowered */
    CHECK(severity_of("{" ORG "\"eventName\":\"CreatePolicy\",\"requestParameters\":{\"policyId\":\"p-tag\"}}", c,
                      SEV_MEDIUM, note, sizeof note) == SEV_MEDIUM);
    /* not an Organizations event: no target, no lowering */
    CHECK(severity_of("{\"eventSource\":\"iam.amazonaws.com\",\"eventName\":\"DetachPolicy\","
                      "\"requestParameters\":{\"policyId\":\"p-tag\"}}", c, SEV_HIGH, note, sizeof note) == SEV_HIGH);
    const char *trusted = "\"userIdentity\":{\"arn\":\"arn:aws:iam::1:role/Sec\"},";
    char ev[512];
    snprintf(ev, sizeof ev, "{" ORG "%s\"eventName\":\"DisableAWSServiceAccess\"}", trusted);
    CHECK(severity_of(ev, c, SEV_HIGH, note, sizeof note) == SEV_INFO && strstr(note, "trusted"));
    snprintf(ev, sizeof ev, "{" ORG "%s\"eventName\":\"LeaveOrganization\"}", trusted);
    CHECK(severity_of(ev, c, SEV_CRITICAL, note, sizeof note) == SEV_CRITICAL);
    CHECK(severity_of("{" ORG "\"eventName\":\"DisableAWSServiceAccess\",\"userIdentity\":{\"arn\":\"arn:aws:iam::1:role/Other\"}}",
                      c, SEV_HIGH, note, sizeof note) == SEV_HIGH);
    CHECK(severity_of("{" ORG "\"eventName\":\"DetachPolicy\",\"requestParameters\":{\"policyId\":\"p-tag\"}}", NULL,
                      SEV_HIGH, note, sizeof note) == SEV_HIGH);    /* no context */
    context_free(c);
}

int main(void)
{
    if (!mkdtemp(dir))
        return 1;
    test_arrays();
    test_inventory();
    test_trusted();
    test_severity();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return check_summary();
}
