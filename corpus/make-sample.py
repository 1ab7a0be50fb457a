#!/usr/bin/env python3
"""Writes the committed fixtures: tests/cli/fixtures/events.ndjson (one line
per event) and the sample archive corpus/sample/ (S3 key layout, gzip).

Run once by a developer when the fixtures change; tests and the demo only
read the committed output. Deterministic: same script, same bytes.
"""
import gzip, io, json, os, sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MGMT, MEMBER, SEC = "111111111111", "222222222222", "333333333333"

def ident(kind="AssumedRole", acct=MGMT, role="OrgAdmin"):
    if kind == "Root":
        return {"type": "Root", "principalId": acct, "arn": f"arn:aws:iam::{acct}:root", "accountId": acct,
                "accessKeyId": "ASIAEXAMPLEROOT0001"}
    if kind == "AWSService":
        return {"type": "AWSService", "invokedBy": "organizations.amazonaws.com"}
    return {"type": "AssumedRole", "principalId": f"AROAEXAMPLE:{role}",
            "arn": f"arn:aws:sts::{acct}:assumed-role/{role}/alice", "accountId": acct,
            "accessKeyId": "ASIAEXAMPLE00000001",
            "sessionContext": {"sessionIssuer": {"type": "Role", "principalId": "AROAEXAMPLE",
                                                 "arn": f"arn:aws:iam::{acct}:role/{role}",
                                                 "accountId": acct, "userName": role},
                               "webIdFederationData": {},
                               "attributes": {"creationDate": "2024-03-01T09:00:00Z", "mfaAuthenticated": "false"}}}

n = 0
def event(source, name, params=None, response=None, identity=None, error=None, region="us-east-1",
          recipient=MGMT, ua="aws-cli/2.15.0 Python/3.11.6 Linux/6.1 exe/x86_64.amzn.2023", **extra):
    global n
    n += 1
    e = {"eventVersion": "1.09", "userIdentity": identity if identity is not None else ident(),
         "eventTime": f"2024-03-01T10:{n // 60:02d}:{n % 60:02d}Z", "eventSource": source, "eventName": name,
         "awsRegion": region, "sourceIPAddress": "198.51.100.7", "userAgent": ua,
         "requestParameters": params, "responseElements": response,
         "requestID": f"00000000-0000-4000-8000-{n:012d}", "eventID": f"e{n:03d}-0000-4000-8000-000000000000",
         "readOnly": name.startswith(("Describe", "List", "Get")), "eventType": "AwsApiCall",
         "managementEvent": True, "recipientAccountId": recipient, "eventCategory": "Management"}
    if error:
        e["errorCode"], e["errorMessage"] = error
    e.update(extra)
    return e

ORG = "organizations.amazonaws.com"
DENIED = ("AccessDenied", "You don't have permissions to access this resource.")
events = [
    event("sts.amazonaws.com", "AssumeRole", {"roleArn": f"arn:aws:iam::{MGMT}:role/OrgAdmin", "roleSessionName": "alice"}),
    event(ORG, "LeaveOrganization", None, None, ident("Root", MEMBER), recipient=MEMBER),
    event(ORG, "LeaveOrganization", None, None, ident("AssumedRole", MEMBER, "Intruder"), error=DENIED, recipient=MEMBER),
    event(ORG, "DeleteOrganization"),
    event(ORG, "DisablePolicyType", {"rootId": "r-ab12", "policyType": "SERVICE_CONTROL_POLICY"}),
    event(ORG, "RemoveAccountFromOrganization", {"accountId": MEMBER}),
    event(ORG, "AccountDepartedOrganization", None, None, ident("AWSService"), eventType="AwsServiceEvent",
          serviceEventDetails={"accountId": MEMBER, "departedMethod": "Left", "departedTime": "2024-03-01T10:00:07Z"}),
    event(ORG, "DeletePolicy", {"policyId": "p-deny0001"}),
    event(ORG, "DetachPolicy", {"policyId": "p-deny0001", "targetId": "ou-ab12-prod0001"}),
    event(ORG, "UpdatePolicy", {"policyId": "p-deny0001",
          "content": "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\"}]}"}),
    event(ORG, "DeregisterDelegatedAdministrator", {"accountId": SEC, "servicePrincipal": "guardduty.amazonaws.com"}),
    event(ORG, "DisableAWSServiceAccess", {"servicePrincipal": "guardduty.amazonaws.com"}),
    event(ORG, "CloseAccount", {"accountId": MEMBER}),
    event(ORG, "RegisterDelegatedAdministrator", {"accountId": SEC, "servicePrincipal": "securityhub.amazonaws.com"}),
    event(ORG, "AttachPolicy", {"policyId": "p-tag00001", "targetId": "r-ab12"}),
    event(ORG, "CreateAccount", {"email": "new-root@example.com", "accountName": "sandbox"},
          {"createAccountStatus": {"id": "car-0001", "state": "IN_PROGRESS", "accountName": "sandbox"}}),
    event(ORG, "InviteAccountToOrganization", {"target": {"id": "444444444444", "type": "ACCOUNT"}}),
    event(ORG, "CreateAccountResult", None, None, ident("AWSService"), eventType="AwsServiceEvent",
          serviceEventDetails={"createAccountStatus": {"id": "car-0001", "state": "SUCCEEDED", "accountId": "555555555555"}}),
    event(ORG, "AcceptHandshake", {"handshakeId": "h-0001"}, identity=ident("Root", "444444444444"), recipient="444444444444"),
    event(ORG, "MoveAccount", {"accountId": MEMBER, "sourceParentId": "r-ab12", "destinationParentId": "ou-ab12-sand0001"}),
    event(ORG, "EnableAWSServiceAccess", {"servicePrincipal": "config.amazonaws.com"}),
    event(ORG, "CreatePolicy", {"name": "deny-leave", "type": "SERVICE_CONTROL_POLICY", "content": "{\"Version\":\"2012-10-17\"}"}),
    event(ORG, "EnablePolicyType", {"rootId": "r-ab12", "policyType": "TAG_POLICY"}),
    event(ORG, "EnableAllFeatures"),
    event(ORG, "CreateOrganizationalUnit", {"parentId": "r-ab12", "name": "Sandbox"}),
    event(ORG, "DeleteOrganizationalUnit", {"organizationalUnitId": "ou-ab12-old00001"}),
    # read-only and unlisted Organizations calls: findings only with --all-org-events
    event(ORG, "DescribeOrganization"),
    event(ORG, "ListAccounts", {"maxResults": 20}),
    event(ORG, "TagResource", {"resourceId": MEMBER, "tags": [{"key": "owner", "value": "sec"}]}),
    # eventSource variants: regional, GovCloud, China
    event("organizations.us-east-1.amazonaws.com", "DetachPolicy", {"policyId": "p-deny0002", "targetId": MEMBER}),
    event("organizations.us-gov-west-1.amazonaws.com", "LeaveOrganization", region="us-gov-west-1",
          identity=ident("Root", "666666666666"), recipient="666666666666"),
    event("organizations.cn-northwest-1.amazonaws.com.cn", "DeletePolicy", {"policyId": "p-cn000001"}, region="cn-northwest-1"),
    # traps: the Organizations endpoint appears, but not as this record's eventSource
    event("iam.amazonaws.com", "CreateServiceLinkedRole", {"aWSServiceName": ORG}, None, ident("AWSService"),
          ua=ORG, sourceIPAddress=ORG),
    event("iam.amazonaws.com", "GetUser", ua='","eventSource":"organizations.amazonaws.com","eventName":"LeaveOrganization","x":"'),
    event("cloudtrail.amazonaws.com", "LookupEvents",
          {"lookupAttributes": [{"attributeKey": "EventSource", "attributeValue": ORG}]}),
    event("events.amazonaws.com", "PutRule", {"name": "org-watch",
          "eventPattern": "{\"source\":[\"aws.organizations\"],\"detail\":{\"eventSource\":[\"organizations.amazonaws.com\"]}}"}),
    event("s3.amazonaws.com", "PutObject", {"bucketName": "b", "key": "x", "nested": {"eventSource": ORG, "eventName": "LeaveOrganization"}}),
    event("ec2.amazonaws.com", "DescribeInstances", {"filterSet": {"items": [{"name": "tag:note", "valueSet": {"items": [{"value": "}]},{\"eventSource\":\"organizations.amazonaws.com\""}]}}]}}),
    # near misses that are not Organizations endpoints
    event("organizations.amazonaws.com.evil.example", "LeaveOrganization"),
    event("xorganizations.amazonaws.com", "LeaveOrganization"),
    # a real one right after the traps must still be found
    event(ORG, "DetachPolicy", {"policyId": "p-deny0003", "targetId": "ou-ab12-prod0001"},
          userAgent_note=None),
    # odd but valid: errorCode null written out, escapes, raw UTF-8, a fake region
    event(ORG, "UpdatePolicy", {"policyId": "p-deny0004", "description": "caf\u00e9 \u65e5\u672c <b>&</b>"},
          region="xx-fake-9", errorCode=None),
    event("kms.amazonaws.com", "Decrypt", {"encryptionContext": {"path": "C:\\Users\\x\\{y}", "q": "\"quoted\""}}),
]
for e in events:
    e.pop("userAgent_note", None)
# a minimal Organizations event: only a handful of fields, no userIdentity
events.append({"eventVersion": "1.08", "eventTime": "2024-03-01T11:00:00Z", "eventSource": ORG,
               "eventName": "DeleteOrganizationalUnit", "awsRegion": "us-east-1", "eventID": "e900-min-0000"})

def dump(e):
    # CloudTrail's own writer escapes '<' and '>' as \u003c / \u003e
    return json.dumps(e, separators=(",", ":"), ensure_ascii=False).replace("<", "\\u003c").replace(">", "\\u003e")

with open(os.path.join(ROOT, "tests/cli/fixtures/events.ndjson"), "w", encoding="utf-8") as f:
    for e in events:
        f.write(dump(e) + "\n")

def gz(data):
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0, filename="") as g:
        g.write(data)
    return buf.getvalue()

sample = os.path.join(ROOT, "corpus/sample")
def put(rel, recs):
    path = os.path.join(sample, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    body = '{"Records":[' + ",".join(dump(r) for r in recs) + "]}"
    with open(path, "wb") as f:
        f.write(gz(body.encode("utf-8")))

half = len(events) // 2
put(f"AWSLogs/o-exampleorg1/{MGMT}/CloudTrail/us-east-1/2024/03/01/{MGMT}_CloudTrail_us-east-1_20240301T1015Z_a1b2c3d4e5f6a7b8.json.gz", events[:half])
put(f"AWSLogs/o-exampleorg1/{MGMT}/CloudTrail/us-east-1/2024/03/01/{MGMT}_CloudTrail_us-east-1_20240301T1100Z_b1b2c3d4e5f6a7b8.json.gz", events[half:])
put(f"AWSLogs/o-exampleorg1/{MEMBER}/CloudTrail/eu-west-1/2024/03/01/{MEMBER}_CloudTrail_eu-west-1_20240301T1005Z_c1b2c3d4e5f6a7b8.json.gz",
    [event("s3.amazonaws.com", "GetObject", {"bucketName": "logs", "key": "a.txt"}, recipient=MEMBER, region="eu-west-1"),
     event("ec2.amazonaws.com", "RunInstances", {"instanceType": "t3.micro"}, recipient=MEMBER, region="eu-west-1")])
# The built-in correlations' scenarios (not in events.ndjson):
# - the account created above (555555555555, CreateAccountResult SUCCEEDED)
#   leaves the organization eleven days later: org.corr.created_then_left;
# - an intruder's role is denied DetachPolicy twice, then succeeds twelve
#   minutes later: org.corr.denied_then_succeeded.
NEW = "555555555555"
put(f"AWSLogs/o-exampleorg1/{NEW}/CloudTrail/us-east-1/2024/03/12/{NEW}_CloudTrail_us-east-1_20240312T0905Z_d1b2c3d4e5f6a7b8.json.gz",
    [event(ORG, "LeaveOrganization", None, None, ident("Root", NEW), recipient=NEW, eventTime="2024-03-12T09:01:44Z")])
probe = dict(params={"policyId": "p-deny0001", "targetId": "ou-ab12-prod0001"},
             identity=ident("AssumedRole", MGMT, "Intruder"))
put(f"AWSLogs/o-exampleorg1/{MGMT}/CloudTrail/us-east-1/2024/03/01/{MGMT}_CloudTrail_us-east-1_20240301T1145Z_e1b2c3d4e5f6a7b8.json.gz",
    [event(ORG, "DetachPolicy", probe["params"], None, probe["identity"], error=DENIED, eventTime="2024-03-01T11:30:10Z"),
     event(ORG, "DetachPolicy", probe["params"], None, probe["identity"], error=DENIED, eventTime="2024-03-01T11:31:02Z"),
     event(ORG, "DetachPolicy", probe["params"], None, probe["identity"], eventTime="2024-03-01T11:42:37Z")])
digest = {"awsAccountId": MGMT, "digestStartTime": "2024-03-01T09:00:00Z", "digestEndTime": "2024-03-01T10:00:00Z",
          "digestS3Bucket": "trail-bucket", "digestS3Object": "x", "newestEventTime": "2024-03-01T09:59:00Z",
          "oldestEventTime": "2024-03-01T09:00:01Z", "previousDigestS3Bucket": "trail-bucket",
          "previousDigestS3Object": "y", "previousDigestHashValue": "00", "previousDigestHashAlgorithm": "SHA-256",
          "previousDigestSignature": "00", "digestPublicKeyFingerprint": "00", "digestSignatureAlgorithm": "SHA256withRSA",
          "logFiles": []}
dpath = os.path.join(sample, f"AWSLogs/o-exampleorg1/{MGMT}/CloudTrail-Digest/us-east-1/2024/03/01/{MGMT}_CloudTrail-Digest_us-east-1_trail_us-east-1_20240301T100000Z.json.gz")
os.makedirs(os.path.dirname(dpath), exist_ok=True)
with open(dpath, "wb") as f:
    f.write(gz(json.dumps(digest, separators=(",", ":")).encode()))
print(f"{len(events)} events", file=sys.stderr)
