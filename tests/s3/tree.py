#!/usr/bin/env python3
"""The bucket tree the S3 tests put, and what a local walk of it gives.

  tree.py make DIR                 writes the tree (deterministic bytes)
  tree.py walk DIR                 its keys in orgtrail's local walk order:
                                   each folder's names sorted byte-wise, depth
                                   first (not a sort of the full keys)
  tree.py sha DIR                  "<sha256> <key>" in that order
  tree.py window DIR SINCE UNTIL SLACK
                                   the CloudTrail keys whose delivery time lies
                                   in [SINCE - SLACK, UNTIL + SLACK), walk order
Skips what the S3 walk skips: CloudTrail-Digest/, other service folders and
files directly in AWSLogs/ or an account folder.
"""
import calendar
import hashlib
import os
import random
import sys
import time

ACCOUNTS = ["111122223333", "444455556666"]
REGIONS = ["eu-west-1", "us-east-1"]
DAYS = [(2024, 3, 1), (2024, 3, 2), (2024, 3, 3), (2024, 4, 30)]
BIG_DAY = (2024, 3, 2)      # this one folder holds > 1,000 keys: ListObjectsV2 pages


def put(root, key, data):
    path = os.path.join(root, key)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def make(root):
    rnd = random.Random(14)
    for acct in ACCOUNTS:
        for region in REGIONS:
            for (y, m, d) in DAYS:
                big = (y, m, d) == BIG_DAY and acct == ACCOUNTS[0] and region == "us-east-1"
                n = 1100 if big else 3
                for i in range(n):
                    hh, mm = (i * 7 // 60) % 24, (i * 7) % 60
                    if not big:
                        hh, mm = [0, 12, 23][i], 0
                    name = "%s_CloudTrail_%s_%04d%02d%02dT%02d%02dZ_%016x.json.gz" % (
                        acct, region, y, m, d, hh, mm, rnd.getrandbits(64))
                    size = 300000 if (i == 1 and not big) else rnd.randint(0, 2000)
                    put(root, "AWSLogs/%s/CloudTrail/%s/%04d/%02d/%02d/%s" % (acct, region, y, m, d, name),
                        rnd.randbytes(size))
    # An organization trail's folder.
    org = "AWSLogs/o-exampleorg/777788889999/CloudTrail/us-east-1/2024/03/02/"
    put(root, org + "777788889999_CloudTrail_us-east-1_20240302T0800Z_%016x.json.gz" % rnd.getrandbits(64),
        rnd.randbytes(500))
    put(root, "AWSLogs/o-exampleorg/777788889999/CloudTrail-Digest/us-east-1/2024/03/02/d.json.gz", b"digest")
    # What the walk leaves out.
    put(root, "AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2024/03/02/d.json.gz", b"digest")
    put(root, "AWSLogs/111122223333/vpcflowlogs/us-east-1/2024/03/02/f.log.gz", b"flow")
    put(root, "AWSLogs/111122223333/ConfigWritabilityCheckFile", b"")
    # Names whose local order differs from a sort of full keys ('-' < '.' < '/').
    put(root, "misc/a/f1.json", b'{"Records":[]}')
    put(root, "misc/a.txt", b"a dot")
    put(root, "misc/a-b/f2.json", b"a dash")
    put(root, "misc/sp ace+plus~tilde&amp.json", b"odd name")


def skipped(key):
    parts = key.split("/")
    if parts[0] != "AWSLogs":
        return False
    if len(parts) > 1 and parts[1].startswith("o-"):
        parts = parts[1:]
    if len(parts) <= 3:
        return True
    return parts[2] != "CloudTrail"


def walk(root, rel=""):
    here = os.path.join(root, rel) if rel else root
    for name in sorted(os.listdir(here), key=lambda s: s.encode()):
        key = rel + "/" + name if rel else name
        if os.path.isdir(os.path.join(root, key)):
            yield from walk(root, key)
        elif not skipped(key):
            yield key


def delivery(key):
    name = key.rsplit("/", 1)[-1]
    if "_CloudTrail_" not in name:
        return None
    stamp = name.split("_")[3]
    return calendar.timegm(time.strptime(stamp, "%Y%m%dT%H%MZ"))


def main():
    cmd, root = sys.argv[1], sys.argv[2]
    if cmd == "make":
        make(root)
    elif cmd == "walk":
        for k in walk(root):
            print(k)
    elif cmd == "sha":
        for k in walk(root):
            with open(os.path.join(root, k), "rb") as f:
                print(hashlib.sha256(f.read()).hexdigest(), k)
    elif cmd == "window":
        lo = calendar.timegm(time.strptime(sys.argv[3], "%Y-%m-%dT%H:%M:%SZ")) - int(sys.argv[5])
        hi = calendar.timegm(time.strptime(sys.argv[4], "%Y-%m-%dT%H:%M:%SZ")) + int(sys.argv[5])
        for k in walk(root):
            t = delivery(k)
            if k.startswith("AWSLogs/") and t is not None and lo <= t < hi:
                print(k)


if __name__ == "__main__":
    main()
