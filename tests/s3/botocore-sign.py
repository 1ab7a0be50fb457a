#!/usr/bin/env python3
# Made the pinned botocore signatures in test_s3_sign.c (run once, by hand:
# python3 tests/s3/botocore-sign.py). Fixed credentials and date; each line is
# method, host, path, query, extra headers, token -> the Authorization header
# botocore's S3SigV4Auth (what the AWS CLI uses) computes.
import datetime
import urllib.parse
from unittest import mock
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

CASES = [
    ("GET", "examplebucket.s3.us-east-1.amazonaws.com", "/", "list-type=2&delimiter=%2F&prefix=AWSLogs%2F", {}, None),
    ("GET", "127.0.0.1:4569", "/bucket/AWSLogs/111122223333/CloudTrail/us-east-1/2024/03/01/a b+c~d.json.gz", "", {"Range": "bytes=100-"}, None),
    ("GET", "s3.eu-west-1.amazonaws.com", "/my.bucket/key//with/../dots", "", {}, "FwoGZXIvYXdzEXAMPLETOKEN=="),
    ("GET", "examplebucket.s3.us-east-1.amazonaws.com", "/", "continuation-token=1ueGcxLPRx1Tr%2FXYExHnhbYLgveDs2J%2FwmK0Z%3D&list-type=2", {}, None),
]

for method, host, path, query, headers, token in CASES:
    creds = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token)
    # the URL as the CLI sends it: the key percent-encoded (botocore's serializer does this)
    url = "https://" + host + urllib.parse.quote(path, safe="/~") + ("?" + query if query else "")
    req = AWSRequest(method=method, url=url, headers=dict(headers))
    req.headers["X-Amz-Content-SHA256"] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    fixed = datetime.datetime(2024, 3, 1, 10, 0, 0, tzinfo=datetime.timezone.utc)
    with mock.patch("botocore.auth.get_current_datetime", return_value=fixed):
        auth = S3SigV4Auth(creds, "s3", "eu-west-1" if host.startswith("s3.eu") else "us-east-1")
        auth.add_auth(req)
    print(method, host, path, query or "-", headers, token, req.headers["X-Amz-Date"], req.headers["Authorization"], sep="\n  ")
