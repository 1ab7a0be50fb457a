#include "s3_creds.h"
#include "s3_sign.h"
#include "util.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <openssl/crypto.h>

/* ---- small parsers ------------------------------------------------------ */

char *s3_xml_text(const char *xml, const char *tag, const char **at)
{
    char open[64], close[64];
    snprintf(open, sizeof open, "<%s>", tag);
    snprintf(close, sizeof close, "</%s>", tag);
    const char *p = strstr(at && *at ? *at : xml, open);
    if (!p)
        return NULL;
    p += strlen(open);
    const char *e = strstr(p, close);
    if (!e)
        return NULL;
    if (at)
        *at = e + strlen(close);
    char *out = malloc((size_t)(e - p) + 1);
    if (!out)
        return NULL;
    size_t n = 0;
    static const struct { const char *ent; char c; } ents[] = {
        { "&amp;", '&' }, { "&lt;", '<' }, { "&gt;", '>' }, { "&quot;", '"' }, { "&apos;", '\'' },
    };
    while (p < e) {
        size_t i = 0;
        if (*p == '&') {
            for (i = 0; i < 5; i++)
                if (strncmp(p, ents[i].ent, strlen(ents[i].ent)) == 0)
                    break;
            if (i < 5) {
                out[n++] = ents[i].c;
                p += strlen(ents[i].ent);
                continue;
            }
            if (p[1] == '#') {                  /* &#13; &#x0D;: keys may hold control characters */
                char *end;
                long v = p[2] == 'x' ? strtol(p + 3, &end, 16) : strtol(p + 2, &end, 10);
                if (*end == ';' && v > 0 && v < 128) {
                    out[n++] = (char)v;
                    p = end + 1;
                    continue;
                }
            }
        }
        out[n++] = *p++;
    }
    out[n] = '\0';
    return out;
}

char *s3_json_text(const char *json, const char *key)
{
    char pat[128];
    snprintf(pat, sizeof pat, "\"%s\"", key);
    const char *p = strstr(json, pat);
    if (!p)
        return NULL;
    p += strlen(pat);
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    if (*p++ != ':')
        return NULL;
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    if (*p++ != '"')
        return NULL;
    ot_buf b = { 0 };
    for (; *p && *p != '"'; p++) {
        char c = *p;
        if (c == '\\' && p[1]) {
            c = *++p;
            c = c == 'n' ? '\n' : c == 't' ? '\t' : c == 'r' ? '\r' : c;
        }
        if (buf_append(&b, &c, 1) < 0)
            goto fail;
    }
    if (*p != '"' || s3_buf_terminate(&b) < 0)
        goto fail;
    return b.data;
fail:
    buf_free(&b);
    return NULL;
}

/* ---- helpers ------------------------------------------------------------ */

size_t s3_curl_collect(char *data, size_t size, size_t n, void *userdata)
{
    ot_buf *b = userdata;
    return buf_append(b, data, size * n) < 0 ? 0 : size * n;
}

static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

static char *read_file(const char *path)
{
    ot_buf b = { 0 };
    if (buf_read_file(&b, path) < 0 || s3_buf_terminate(&b) < 0) {
        buf_free(&b);
        return NULL;
    }
    return b.data;
}

static void trim_end(char *s)
{
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = '\0';
}

/* The value of key in [section] of an INI file (the AWS shared files), or
 * NULL. *found is set when the section exists. */
static char *ini_get(const char *path, const char *section, const char *key, int *found)
{
    char *text = read_file(path);
    if (!text)
        return NULL;
    char *result = NULL;
    int in_section = 0;
    for (char *line = text, *next; line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        while (*line == ' ' || *line == '\t')
            line++;
        trim_end(line);
        if (*line == '[') {
            char *end = strchr(line, ']');
            if (!end)
                continue;
            *end = '\0';
            char *name = line + 1;
            while (*name == ' ')
                name++;
            trim_end(name);
            in_section = strcmp(name, section) == 0;
            if (in_section && found)
                *found = 1;
            continue;
        }
        if (!in_section || *line == '#' || *line == ';')
            continue;
        char *eq = strchr(line, '=');
        if (!eq)
            continue;
        *eq = '\0';
        trim_end(line);
        if (strcmp(line, key) != 0)
            continue;
        char *v = eq + 1;
        while (*v == ' ' || *v == '\t')
            v++;
        result = strdup(v);
        break;
    }
    free(text);
    return result;
}

static char *home_file(const char *env_name, const char *rel)
{
    const char *p = env(env_name);
    if (p)
        return strdup(p);
    const char *home = env("HOME");
    if (!home)
        return NULL;
    size_t n = strlen(home) + strlen(rel) + 2;
    char *out = malloc(n);
    if (out)
        snprintf(out, n, "%s/%s", home, rel);
    return out;
}

typedef struct {
    char *credentials, *config;   /* file paths */
    const char *name;             /* the profile */
    char section[256];            /* its section in config: "profile NAME", or "default" */
    int explicit_name;            /* AWS_PROFILE was set */
} profile_files;

static int profile_open(profile_files *p)
{
    memset(p, 0, sizeof *p);
    p->name = env("AWS_PROFILE");
    p->explicit_name = p->name != NULL;
    if (!p->name)
        p->name = "default";
    if (strcmp(p->name, "default") == 0)
        snprintf(p->section, sizeof p->section, "default");
    else
        snprintf(p->section, sizeof p->section, "profile %s", p->name);
    p->credentials = home_file("AWS_SHARED_CREDENTIALS_FILE", ".aws/credentials");
    p->config = home_file("AWS_CONFIG_FILE", ".aws/config");
    return 0;
}

static void profile_close(profile_files *p)
{
    free(p->credentials);
    free(p->config);
}

/* key from the credentials file's [name], else from the config file's section. */
static char *profile_get(const profile_files *p, const char *key, int *found)
{
    char *v = p->credentials ? ini_get(p->credentials, p->name, key, found) : NULL;
    if (!v && p->config)
        v = ini_get(p->config, p->section, key, found);
    return v;
}

/* One blocking HTTP request for the credential endpoints. Returns 0 with
 * *status and the body in resp (terminated), -ECONNREFUSED when nothing
 * answered, or -EIO with err set. */
static int http_call(const char *method, const char *url, struct curl_slist *headers, const char *body,
                     long timeout_ms, ot_buf *resp, long *status, char *err, size_t errlen)
{
    int rc = -ENOMEM;
    CURL *c = curl_easy_init();
    if (!c)
        goto out;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, s3_curl_collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, resp);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms < 1000 ? timeout_ms : 1000);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");   /* metadata endpoints are never behind a proxy */
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    } else if (strcmp(method, "PUT") == 0) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
    }
    CURLcode cc = curl_easy_perform(c);
    if (cc != CURLE_OK) {
        rc = cc == CURLE_COULDNT_CONNECT || cc == CURLE_OPERATION_TIMEDOUT ? -ECONNREFUSED : -EIO;
        snprintf(err, errlen, "%s: %s", url, curl_easy_strerror(cc));
        goto out;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    rc = s3_buf_terminate(resp);
out:
    curl_easy_cleanup(c);
    return rc;
}

static void set_expiration(s3_credentials *out, const char *iso)
{
    int64_t t;
    int date_only;
    if (iso && parse_time(iso, strlen(iso), &t, &date_only) == 0)
        out->expiration = t;
}

/* Fills out from a JSON document with AccessKeyId, SecretAccessKey and
 * token_key (SessionToken or Token), Expiration. */
static int from_json(s3_credentials *out, const char *json, const char *token_key, const char *source, char *err,
                     size_t errlen)
{
    out->access_key = s3_json_text(json, "AccessKeyId");
    out->secret_key = s3_json_text(json, "SecretAccessKey");
    out->session_token = s3_json_text(json, token_key);
    char *exp = s3_json_text(json, "Expiration");
    set_expiration(out, exp);
    free(exp);
    out->source = source;
    if (!out->access_key || !out->secret_key) {
        snprintf(err, errlen, "%s credentials: no AccessKeyId/SecretAccessKey in the answer", source);
        return -EINVAL;
    }
    return 0;
}

/* ---- the sources -------------------------------------------------------- */

static int from_env(s3_credentials *out)
{
    const char *id = env("AWS_ACCESS_KEY_ID"), *secret = env("AWS_SECRET_ACCESS_KEY");
    if (!id || !secret)
        return -ENOENT;
    out->access_key = strdup(id);
    out->secret_key = strdup(secret);
    out->session_token = env("AWS_SESSION_TOKEN") ? strdup(env("AWS_SESSION_TOKEN")) : NULL;
    out->source = "env";
    return out->access_key && out->secret_key ? 0 : -ENOMEM;
}

static int run_process(s3_credentials *out, const char *profile, const char *cmd, char *err, size_t errlen)
{
    fflush(NULL);
    FILE *f = popen(cmd, "r");
    if (!f) {
        snprintf(err, errlen, "profile %s: credential_process: %s", profile, strerror(errno));
        return -errno;
    }
    ot_buf b = { 0 };
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        buf_append(&b, chunk, n);
    int status = pclose(f);
    int rc;
    if (status != 0) {
        snprintf(err, errlen, "profile %s: credential_process exited with status %d", profile,
                 WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
        rc = -EPERM;
    } else {
        rc = s3_buf_terminate(&b);
        if (rc == 0)
            rc = from_json(out, b.data, "SessionToken", "process", err, errlen);
    }
    if (b.data)
        OPENSSL_cleanse(b.data, b.len);
    buf_free(&b);
    return rc;
}

static int from_profile(s3_credentials *out, char *err, size_t errlen)
{
    profile_files p;
    profile_open(&p);
    int found = 0, rc = -ENOENT;
    char *id = profile_get(&p, "aws_access_key_id", &found);
    char *secret = profile_get(&p, "aws_secret_access_key", &found);
    char *process = NULL;
    if (id && secret) {
        out->access_key = id;
        out->secret_key = secret;
        out->session_token = profile_get(&p, "aws_session_token", &found);
        out->source = "profile";
        id = secret = NULL;
        rc = 0;
        goto out;
    }
    process = profile_get(&p, "credential_process", &found);
    if (process) {
        rc = run_process(out, p.name, process, err, errlen);
        goto out;
    }
    if (p.explicit_name && !found) {
        snprintf(err, errlen, "AWS_PROFILE %s: no such profile in %s or %s", p.name,
                 p.credentials ? p.credentials : "~/.aws/credentials", p.config ? p.config : "~/.aws/config");
        rc = -EINVAL;
    }
out:
    free(id);
    free(secret);
    free(process);
    profile_close(&p);
    return rc;
}

static char *form_escape(CURL *c, const char *s)
{
    char *e = curl_easy_escape(c, s, 0);
    char *out = e ? strdup(e) : NULL;
    curl_free(e);
    return out;
}

static int from_web_identity(s3_credentials *out, const char *region, char *err, size_t errlen)
{
    const char *file = env("AWS_WEB_IDENTITY_TOKEN_FILE"), *role = env("AWS_ROLE_ARN");
    if (!file || !role)
        return -ENOENT;
    int rc = -ENOMEM;
    char *token = read_file(file), *e_token = NULL, *e_role = NULL, *e_session = NULL;
    ot_buf url = { 0 }, body = { 0 }, resp = { 0 };
    CURL *c = curl_easy_init();
    if (!token) {
        snprintf(err, errlen, "web identity: cannot read AWS_WEB_IDENTITY_TOKEN_FILE %s", file);
        rc = -ENOENT;
        goto out;
    }
    trim_end(token);
    const char *session = env("AWS_ROLE_SESSION_NAME") ? env("AWS_ROLE_SESSION_NAME") : "orgtrail";
    if (!c || !(e_token = form_escape(c, token)) || !(e_role = form_escape(c, role)) ||
        !(e_session = form_escape(c, session)))
        goto out;
    const char *sts = env("AWS_ENDPOINT_URL_STS");
    if (sts ? buf_printf(&url, "%s", sts) < 0 : buf_printf(&url, "https://sts.%s.amazonaws.com/", region) < 0)
        goto out;
    if (buf_printf(&body, "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=%s&RoleSessionName=%s"
                          "&WebIdentityToken=%s", e_role, e_session, e_token) < 0 ||
        s3_buf_terminate(&url) < 0 || s3_buf_terminate(&body) < 0)
        goto out;
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/x-www-form-urlencoded");
    h = curl_slist_append(h, "Accept: application/xml");
    long status = 0;
    rc = http_call("POST", url.data, h, body.data, 10000, &resp, &status, err, errlen);
    curl_slist_free_all(h);
    if (rc < 0)
        goto out;
    if (status != 200) {
        char *code = s3_xml_text(resp.data, "Code", NULL);
        snprintf(err, errlen, "web identity: STS AssumeRoleWithWebIdentity for %s: HTTP %ld %s", role, status,
                 code ? code : "");
        free(code);
        rc = -EPERM;
        goto out;
    }
    out->access_key = s3_xml_text(resp.data, "AccessKeyId", NULL);
    out->secret_key = s3_xml_text(resp.data, "SecretAccessKey", NULL);
    out->session_token = s3_xml_text(resp.data, "SessionToken", NULL);
    char *exp = s3_xml_text(resp.data, "Expiration", NULL);
    set_expiration(out, exp);
    free(exp);
    out->source = "web-identity";
    rc = 0;
    if (!out->access_key || !out->secret_key) {
        snprintf(err, errlen, "web identity: no credentials in STS's answer");
        rc = -EINVAL;
    }
out:
    if (token)
        OPENSSL_cleanse(token, strlen(token));
    free(token);
    free(e_token);
    free(e_role);
    free(e_session);
    buf_free(&url);
    buf_free(&body);
    buf_free(&resp);
    curl_easy_cleanup(c);
    return rc;
}

static int from_container(s3_credentials *out, char *err, size_t errlen)
{
    const char *full = env("AWS_CONTAINER_CREDENTIALS_FULL_URI"), *rel = env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
    if (!full && !rel)
        return -ENOENT;
    int rc = -ENOMEM;
    ot_buf url = { 0 }, resp = { 0 }, auth = { 0 };
    char *token = NULL;
    struct curl_slist *h = NULL;
    if ((rel ? buf_printf(&url, "http://169.254.170.2%s", rel) : buf_printf(&url, "%s", full)) < 0 ||
        s3_buf_terminate(&url) < 0)
        goto out;
    const char *token_file = env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
    if (token_file) {
        token = read_file(token_file);
        if (!token) {
            snprintf(err, errlen, "container credentials: cannot read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE %s",
                     token_file);
            rc = -ENOENT;
            goto out;
        }
        trim_end(token);
    } else if (env("AWS_CONTAINER_AUTHORIZATION_TOKEN")) {
        token = strdup(env("AWS_CONTAINER_AUTHORIZATION_TOKEN"));
        if (!token)
            goto out;
    }
    if (token) {
        if (buf_printf(&auth, "Authorization: %s", token) < 0 || s3_buf_terminate(&auth) < 0)
            goto out;
        h = curl_slist_append(NULL, auth.data);
    }
    long status = 0;
    rc = http_call("GET", url.data, h, NULL, 5000, &resp, &status, err, errlen);
    if (rc < 0) {
        char inner[256];
        snprintf(inner, sizeof inner, "%s", err);
        snprintf(err, errlen, "container credentials: %s", inner);
        rc = -EIO;
        goto out;
    }
    if (status != 200) {
        snprintf(err, errlen, "container credentials: %s: HTTP %ld", url.data, status);
        rc = -EPERM;
        goto out;
    }
    rc = from_json(out, resp.data, "Token", "container", err, errlen);
out:
    if (token)
        OPENSSL_cleanse(token, strlen(token));
    free(token);
    if (auth.data)
        OPENSSL_cleanse(auth.data, auth.len);
    buf_free(&auth);
    buf_free(&url);
    buf_free(&resp);
    curl_slist_free_all(h);
    return rc;
}

static int from_imds(s3_credentials *out, char *err, size_t errlen)
{
    const char *disabled = env("AWS_EC2_METADATA_DISABLED");
    if (disabled && strcmp(disabled, "true") == 0)
        return -ENOENT;
    const char *base = env("AWS_EC2_METADATA_SERVICE_ENDPOINT") ? env("AWS_EC2_METADATA_SERVICE_ENDPOINT")
                                                                 : "http://169.254.169.254";
    size_t bl = strlen(base);
    while (bl > 0 && base[bl - 1] == '/')
        bl--;
    int rc = -ENOMEM;
    ot_buf url = { 0 }, token = { 0 }, role = { 0 }, creds = { 0 }, hdr = { 0 };
    struct curl_slist *h = curl_slist_append(NULL, "X-aws-ec2-metadata-token-ttl-seconds: 21600");
    long status = 0;
    char e2[256];
    if (buf_printf(&url, "%.*s/latest/api/token", (int)bl, base) < 0 || s3_buf_terminate(&url) < 0)
        goto out;
    rc = http_call("PUT", url.data, h, NULL, 1000, &token, &status, e2, sizeof e2);
    curl_slist_free_all(h);
    h = NULL;
    if (rc == -ECONNREFUSED) {
        rc = -ENOENT;              /* not on EC2: the chain is empty */
        goto out;
    }
    if (rc < 0 || status != 200) {
        snprintf(err, errlen, "IMDSv2: %s: %s", url.data, rc < 0 ? e2 : "no session token");
        rc = -EIO;
        goto out;
    }
    trim_end(token.data);
    rc = -ENOMEM;
    if (buf_printf(&hdr, "X-aws-ec2-metadata-token: %s", token.data) < 0 || s3_buf_terminate(&hdr) < 0)
        goto out;
    h = curl_slist_append(NULL, hdr.data);
    url.len = 0;
    if (buf_printf(&url, "%.*s/latest/meta-data/iam/security-credentials/", (int)bl, base) < 0 ||
        s3_buf_terminate(&url) < 0)
        goto out;
    rc = http_call("GET", url.data, h, NULL, 2000, &role, &status, e2, sizeof e2);
    if (rc < 0 || status != 200 || !*role.data) {
        snprintf(err, errlen, "IMDSv2: %s: %s", url.data, rc < 0 ? e2 : "no instance role");
        rc = -EIO;
        goto out;
    }
    role.data[strcspn(role.data, "\r\n")] = '\0';
    rc = -ENOMEM;
    if (buf_printf(&url, "%s", role.data) < 0 || s3_buf_terminate(&url) < 0)
        goto out;
    rc = http_call("GET", url.data, h, NULL, 2000, &creds, &status, e2, sizeof e2);
    if (rc < 0 || status != 200) {
        snprintf(err, errlen, "IMDSv2: %s: %s", url.data, rc < 0 ? e2 : "HTTP error");
        rc = -EIO;
        goto out;
    }
    rc = from_json(out, creds.data, "Token", "imds", err, errlen);
out:
    curl_slist_free_all(h);
    buf_free(&url);
    buf_free(&token);
    buf_free(&role);
    if (creds.data)
        OPENSSL_cleanse(creds.data, creds.len);
    buf_free(&creds);
    buf_free(&hdr);
    return rc;
}

int s3_credentials_resolve(s3_credentials *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    snprintf(err, errlen, "no AWS credentials: none in the environment, the profile files, web identity, "
                          "container or instance metadata");
    s3_config cfg;
    int rc = s3_config_resolve(&cfg, NULL);
    if (rc < 0)
        return rc;
    rc = from_env(out);
    if (rc == -ENOENT)
        rc = from_profile(out, err, errlen);
    if (rc == -ENOENT)
        rc = from_web_identity(out, cfg.region, err, errlen);
    if (rc == -ENOENT)
        rc = from_container(out, err, errlen);
    if (rc == -ENOENT)
        rc = from_imds(out, err, errlen);
    s3_config_clear(&cfg);
    if (rc < 0)
        s3_credentials_clear(out);
    return rc;
}

static void wipe_free(char *s)
{
    if (s) {
        OPENSSL_cleanse(s, strlen(s));
        free(s);
    }
}

void s3_credentials_clear(s3_credentials *c)
{
    if (!c)
        return;
    wipe_free(c->access_key);
    wipe_free(c->secret_key);
    wipe_free(c->session_token);
    memset(c, 0, sizeof *c);
}

int s3_config_resolve(s3_config *cfg, const char *endpoint_url)
{
    memset(cfg, 0, sizeof *cfg);
    const char *region = env("AWS_REGION") ? env("AWS_REGION") : env("AWS_DEFAULT_REGION");
    if (region) {
        cfg->region = strdup(region);
    } else {
        profile_files p;
        profile_open(&p);
        cfg->region = p.config ? ini_get(p.config, p.section, "region", NULL) : NULL;
        profile_close(&p);
        if (!cfg->region)
            cfg->region = strdup("us-east-1");
    }
    const char *ep = endpoint_url ? endpoint_url : env("AWS_ENDPOINT_URL_S3") ? env("AWS_ENDPOINT_URL_S3")
                                                                              : env("AWS_ENDPOINT_URL");
    if (ep) {
        cfg->endpoint = strdup(ep);
        if (cfg->endpoint) {
            size_t n = strlen(cfg->endpoint);
            while (n > 0 && cfg->endpoint[n - 1] == '/')
                cfg->endpoint[--n] = '\0';
        }
        cfg->path_style = 1;
    }
    if (!cfg->region || (ep && !cfg->endpoint)) {
        s3_config_clear(cfg);
        return -ENOMEM;
    }
    return 0;
}

void s3_config_clear(s3_config *cfg)
{
    if (!cfg)
        return;
    free(cfg->region);
    free(cfg->endpoint);
    memset(cfg, 0, sizeof *cfg);
}
