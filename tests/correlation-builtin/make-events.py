#!/usr/bin/env python3
"""Writes events.ndjson: scenarios for the two built-in correlations, each
with the decoys that must not match. expected.ndjson beside it is written by
hand, not by orgtrail: one line per correlation finding, in output order.

Run by a developer when the scenarios change; the test reads the committed
output. Deterministic.
"""
import json, os

ORG = "organizations.amazonaws.com"
MGMT = "111111111111"
X = "arn:aws:sts::111111111111:assumed-role/Ops/x"
Y = "arn:aws:sts::111111111111:assumed-role/Ops/y"
Z = "arn:aws:sts::111111111111:assumed-role/Ops/z"

def ev(eid, time, name, recipient=MGMT, arn=X, error=None, service=None, params=None):
    e = {"eventVersion": "1.09", "eventTime": time, "eventSource": ORG, "eventName": name,
         "awsRegion": "us-east-1", "sourceIPAddress": "198.51.100.7", "eventID": eid,
         "recipientAccountId": recipient, "requestParameters": params}
    if service:
        e["userIdentity"] = {"type": "AWSService", "invokedBy": ORG}
        e["eventType"] = "AwsServiceEvent"
        e["serviceEventDetails"] = service
    else:
        e["userIdentity"] = {"type": "AssumedRole", "arn": arn, "accountId": recipient}
        e["eventType"] = "AwsApiCall"
    if error:
        e["errorCode"], e["errorMessage"] = error, "denied"
    return e

def created(eid, time, account, state="SUCCEEDED"):
    return ev(eid, time, "CreateAccountResult",
              service={"createAccountStatus": {"id": "car-" + eid, "state": state, "accountId": account}})

def left(eid, time, account, error=None):
    return ev(eid, time, "LeaveOrganization", recipient=account,
              arn=f"arn:aws:iam::{account}:root", error=error)

events = [
    # created_then_left: 777000000001 created, left 19.5 days later: a finding
    created("c1", "2024-05-01T00:00:00Z", "777000000001"),
    left("l1", "2024-05-20T12:00:00Z", "777000000001"),
    left("l1", "2024-05-20T12:00:00Z", "777000000001"),   # delivered twice (org and account trail): counts once
    # decoy: left after 40 days
    created("c2", "2024-05-01T01:00:00Z", "777000000002"),
    left("l2", "2024-06-10T01:00:00Z", "777000000002"),
    # decoy: another account leaves
    created("c3", "2024-05-02T00:00:00Z", "777000000003"),
    left("l3", "2024-05-03T00:00:00Z", "777000000009"),
    # just fits: exactly 30 days (the window is [t, t + 30d])
    created("c4", "2024-05-01T00:00:00Z", "777000000004"),
    left("l4", "2024-05-31T00:00:00Z", "777000000004"),
    # just misses: 30 days and 1 second
    created("c5", "2024-05-01T00:00:00Z", "777000000005"),
    left("l5", "2024-05-31T00:00:01Z", "777000000005"),
    # decoy: the creation failed
    created("c6", "2024-05-01T00:00:00Z", "777000000006", state="FAILED"),
    left("l6", "2024-05-02T00:00:00Z", "777000000006"),
    # decoy: the leave was denied
    created("c7", "2024-05-01T00:00:00Z", "777000000007"),
    left("l7", "2024-05-02T00:00:00Z", "777000000007", error="AccessDenied"),
    # decoy: left first, created after (an old account id reused is not a sequence)
    left("l8", "2024-05-01T00:00:00Z", "777000000008"),
    created("c8", "2024-05-02T00:00:00Z", "777000000008"),

    # denied_then_succeeded: x denied twice, then succeeds 30 minutes later: a finding of 3 events
    ev("d1", "2024-05-01T10:00:00Z", "DetachPolicy", error="AccessDenied", params={"policyId": "p-1"}),
    ev("d2", "2024-05-01T10:05:00Z", "DetachPolicy", error="AccessDenied", params={"policyId": "p-1"}),
    ev("s1", "2024-05-01T10:30:00Z", "DetachPolicy", params={"policyId": "p-1"}),
    # decoy: the success comes 2 hours after the denial
    ev("d3", "2024-05-01T11:00:00Z", "AttachPolicy", error="AccessDenied"),
    ev("s3", "2024-05-01T13:00:00Z", "AttachPolicy"),
    # decoy: another principal succeeds
    ev("d4", "2024-05-01T12:00:00Z", "DeletePolicy", error="AccessDenied"),
    ev("s4", "2024-05-01T12:10:00Z", "DeletePolicy", arn=Y),
    # decoy: another call succeeds
    ev("d9", "2024-05-01T12:20:00Z", "UpdatePolicy", arn=Y, error="AccessDenied"),
    ev("s9", "2024-05-01T12:25:00Z", "DeletePolicy", arn=Y),
    # decoy: success first, denial after
    ev("s5", "2024-05-01T14:00:00Z", "UpdatePolicy", arn=Z),
    ev("d5", "2024-05-01T14:10:00Z", "UpdatePolicy", arn=Z, error="AccessDenied"),
    # decoy: read-only calls are not write calls
    ev("d6", "2024-05-01T15:00:00Z", "ListAccounts", error="AccessDenied"),
    ev("s6", "2024-05-01T15:01:00Z", "ListAccounts"),
    # just fits: exactly 1 hour
    ev("d7", "2024-05-01T16:00:00Z", "DisablePolicyType", arn=Z, error="AccessDenied"),
    ev("s7", "2024-05-01T17:00:00Z", "DisablePolicyType", arn=Z),
]

here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "events.ndjson"), "w") as f:
    for e in events:
        f.write(json.dumps(e, separators=(",", ":")) + "\n")
