#!/usr/bin/env python3
"""Tiny stand-ins for the credential endpoints, on one loopback port:
  IMDSv2     PUT /latest/api/token, then GET /latest/meta-data/iam/security-credentials/[ROLE]
             (401 without the session token, as IMDSv2 answers)
  container  GET /container/creds, Authorization must equal --container-token
  STS        POST /sts: AssumeRoleWithWebIdentity; WebIdentityToken must equal --web-token
Prints "port N" once listening."""
import argparse
import http.server
import json
import socketserver
import urllib.parse

EXP = "2031-01-02T03:04:05Z"


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, body, ctype="text/plain"):
        body = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def creds(self, prefix, token_key):
        return json.dumps({"Code": "Success", "AccessKeyId": prefix + "-AKID", "SecretAccessKey": prefix + "-secret",
                           token_key: prefix + "-token", "Expiration": EXP})

    def do_PUT(self):
        if self.path == "/latest/api/token" and self.headers.get("X-aws-ec2-metadata-token-ttl-seconds"):
            return self.answer(200, "imds-session")
        self.answer(400, "bad token request")

    def do_GET(self):
        a = self.server.args
        if self.path.startswith("/latest/meta-data/iam/security-credentials/"):
            if self.headers.get("X-aws-ec2-metadata-token") != "imds-session":
                return self.answer(401, "")
            role = self.path[len("/latest/meta-data/iam/security-credentials/"):]
            if role == "":
                return self.answer(200, "orgtrail-role\n")
            if role == "orgtrail-role":
                return self.answer(200, self.creds("imds", "Token"), "application/json")
            return self.answer(404, "")
        if self.path == "/container/creds":
            if self.headers.get("Authorization") != a.container_token:
                return self.answer(401, '{"message":"bad token"}')
            return self.answer(200, self.creds("container", "Token"), "application/json")
        self.answer(404, "")

    def do_POST(self):
        a = self.server.args
        n = int(self.headers.get("Content-Length") or 0)
        form = dict(urllib.parse.parse_qsl(self.rfile.read(n).decode()))
        if self.path != "/sts" or form.get("Action") != "AssumeRoleWithWebIdentity":
            return self.answer(400, "")
        if form.get("WebIdentityToken") != a.web_token or not form.get("RoleArn"):
            return self.answer(403, "<ErrorResponse><Error><Type>Sender</Type><Code>InvalidIdentityToken</Code>"
                                    "<Message>bad token</Message></Error></ErrorResponse>", "text/xml")
        xml = ("<AssumeRoleWithWebIdentityResponse><AssumeRoleWithWebIdentityResult><Credentials>"
               "<AccessKeyId>web-AKID</AccessKeyId><SecretAccessKey>web-secret</SecretAccessKey>"
               "<SessionToken>web-token-for-%s</SessionToken><Expiration>%s</Expiration></Credentials>"
               "</AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>"
               % (form.get("RoleSessionName"), EXP))
        self.answer(200, xml, "text/xml")


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--container-token", required=True)
    p.add_argument("--web-token", required=True)
    srv = Server(("127.0.0.1", 0), Handler)
    srv.args = p.parse_args()
    print("port", srv.server_address[1], flush=True)
    srv.serve_forever()


main()
