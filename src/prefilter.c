#include "prefilter.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define PF_X86 1
#else
#define PF_X86 0
#endif

#define FP 3                /* bytes in a needle's Teddy window */
#define NBUCKETS 8          /* Teddy buckets: one bit of a byte each */
#define RARE_AUTO_MAX 1     /* AUTO: the rare-byte filter for one needle, Teddy above (measured) */
#define KEY_BITS 7          /* confirm hash table: 128 slots a bucket */
#define NO_NEEDLE 0xff

typedef struct {
    uint8_t bytes[64];   /* the needle; NOCASE letters in lower case */
    uint8_t fold[64];    /* 0x20 where a NOCASE letter is, else 0: a byte b matches when (b | fold) == byte */
    size_t len;
    size_t rare1, rare2; /* offsets of the two rarest bytes, rare1 < rare2 (rare-byte filter) */
    size_t off;          /* Teddy window: needle bytes [off, off + FP), those below len */
    unsigned bucket;     /* Teddy bucket */
} needle;

struct prefilter {
    /* Teddy tables: for window byte i, the buckets that accept a byte by
     * its low nibble (lo) and by its high nibble (hi); both 16-byte
     * halves are the same, for the two 128-bit lanes of PSHUFB. */
    uint8_t lo[FP][32] __attribute__((aligned(32)));
    uint8_t hi[FP][32] __attribute__((aligned(32)));
    /* Scalar filter: for window byte i, the needles whose byte i accepts c. */
    uint64_t tab[FP][256];
    needle needles[PREFILTER_MAX_NEEDLES];
    uint8_t bucket_needles[NBUCKETS][PREFILTER_MAX_NEEDLES];
    unsigned bucket_n[NBUCKETS];
    /* Confirm (Hyperscan's): a candidate's bucket is narrowed to the
     * needles whose 8 bytes at j + key_at (j: window offset), ORed with
     * key_fold and masked with key_mask, hash alike. key_mask covers bytes
     * every needle of the bucket has there. */
    ptrdiff_t key_at[NBUCKETS];
    uint64_t key_mask[NBUCKETS], key_fold[NBUCKETS];
    uint8_t key_head[NBUCKETS][1u << KEY_BITS];   /* first needle per hash; NO_NEEDLE if none */
    uint8_t key_next[PREFILTER_MAX_NEEDLES];       /* next needle with the same bucket and hash */
    size_t n;
    size_t max_len;
    size_t off_min, off_max;   /* of the needles' window offsets */
    int any_fold;
    int raw_lo;                /* no window byte accepts a byte >= 0x80 */
    enum prefilter_impl impl;
};

/* ---- needle statistics ---------------------------------------------------- */

/* How common a byte is in CloudTrail JSON, roughly (higher = more common).
 * Only the order matters: it picks the two bytes of a needle least likely
 * to match by chance (rare-byte filter). */
static int byte_commonness(uint8_t c)
{
    if (c == '"' || c == ':' || c == ',')
        return 90;
    if (c >= '0' && c <= '9')
        return 80;
    if (c == '-' || c == '.' || c == '/' || c == '_')
        return 60;
    if (c >= 'a' && c <= 'z') {
        static const char order[] = "etaoinsrlcdumhpgfybwkvxjqz"; /* most to least common */
        const char *p = strchr(order, c);
        return 70 - (int)(p - order) * 2;
    }
    if (c >= 'A' && c <= 'Z')
        return 20;
    return 10;
}

/* Byte frequencies in decoded CloudTrail JSON, per million bytes (at least
 * 1), from 186 MB of `orgtrail-gen --seed 7` output; '\n' set to 1000 for
 * NDJSON and pretty-printed inputs. They place the Teddy windows and
 * buckets, so only their rough size matters. */
static const uint32_t byte_ppm[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1000, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    3172, 1, 99337, 453, 81, 27, 6, 5, 212, 212, 14, 212, 24463, 20813, 13614, 5798,
    16850, 18307, 18712, 14469, 18778, 14267, 10727, 13645, 10026, 12016, 42522, 222, 11, 139, 13, 4,
    292, 13990, 1482, 4732, 5582, 4275, 1740, 2085, 3260, 10242, 1161, 2011, 2848, 3214, 3175, 3829,
    3885, 1044, 5796, 8904, 5977, 1438, 2724, 2144, 1153, 1032, 2187, 560, 299, 560, 1, 3253,
    1, 48500, 8204, 26455, 21518, 82110, 7383, 7024, 3336, 24606, 784, 2561, 17549, 17725, 39009, 31250,
    11766, 1857, 34052, 44546, 42778, 18955, 9843, 7820, 2424, 8064, 3335, 6034, 1, 6035, 1, 1,
    8, 1, 9, 67, 1, 1, 1, 1, 1, 11, 1, 1, 1, 1, 1, 11,
    9, 1, 1, 9, 20, 1, 1, 13, 1, 1, 1, 1, 13, 1, 1, 1,
    1, 1, 1, 1, 1, 13, 1, 5, 1, 33, 1, 18, 14, 1, 1, 1,
    1, 1, 1, 1, 1, 9, 1, 1, 1, 1, 1, 20, 18, 1, 1, 1,
    1, 1, 21, 34, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 8, 64, 1, 11, 27, 11, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
};

/*
 * Three typical CloudTrail records, after AWS's documented record contents:
 * the keys every record repeats and the values most records share. A
 * window found here passes about as often in real logs as here, however
 * rare its bytes are one by one (Acc in recipientAccountId, ntS in
 * eventSource, Rol in "type":"Role").
 */
static const char ct_sample[] =
    "{\"eventVersion\":\"1.08\",\"userIdentity\":{\"type\":\"AssumedRole\",\"principalId\":"
    "\"AROA4EXAMPLE7QZK2XHJD:i-0a1b2c3d4e5f67890\",\"arn\":\"arn:aws:sts::123456789012:assumed-role/"
    "app-server-role/i-0a1b2c3d4e5f67890\",\"accountId\":\"123456789012\",\"accessKeyId\":"
    "\"ASIA4EXAMPLEQ2WJ3KXM\",\"sessionContext\":{\"sessionIssuer\":{\"type\":\"Role\","
    "\"principalId\":\"AROA4EXAMPLE7QZK2XHJD\",\"arn\":\"arn:aws:iam::123456789012:role/"
    "app-server-role\",\"accountId\":\"123456789012\",\"userName\":\"app-server-role\"},"
    "\"webIdFederationData\":{},\"attributes\":{\"creationDate\":\"2024-03-01T09:12:44Z\","
    "\"mfaAuthenticated\":\"false\"},\"ec2RoleDelivery\":\"2.0\"},\"invokedBy\":\"s3.amazonaws.com\"},"
    "\"eventTime\":\"2024-03-01T10:05:17Z\",\"eventSource\":\"kms.amazonaws.com\",\"eventName\":"
    "\"Decrypt\",\"awsRegion\":\"us-east-1\",\"sourceIPAddress\":\"s3.amazonaws.com\",\"userAgent\":"
    "\"s3.amazonaws.com\",\"requestParameters\":{\"encryptionContext\":{\"aws:s3:arn\":"
    "\"arn:aws:s3:::app-data-bucket/uploads/2024/03/01/report.csv\"},\"encryptionAlgorithm\":"
    "\"SYMMETRIC_DEFAULT\"},\"responseElements\":null,\"requestID\":\"5b7e9f2a-3c4d-4e6f-8a9b-"
    "0c1d2e3f4a5b\",\"eventID\":\"d8e7f6a5-b4c3-4d2e-9f1a-0b9c8d7e6f5a\",\"readOnly\":true,"
    "\"resources\":[{\"accountId\":\"123456789012\",\"type\":\"AWS::KMS::Key\",\"ARN\":"
    "\"arn:aws:kms:us-east-1:123456789012:key/7c6b5a49-3827-4160-9f8e-7d6c5b4a3928\"}],"
    "\"eventType\":\"AwsApiCall\",\"managementEvent\":true,\"recipientAccountId\":"
    "\"123456789012\",\"sharedEventID\":\"a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d\","
    "\"eventCategory\":\"Management\"},\n"
    "{\"eventVersion\":\"1.09\",\"userIdentity\":{\"type\":\"IAMUser\",\"principalId\":"
    "\"AIDA4EXAMPLEX7MNB3QZL\",\"arn\":\"arn:aws:iam::123456789012:user/deploy-bot\",\"accountId\":"
    "\"123456789012\",\"accessKeyId\":\"AKIA4EXAMPLEH5TR2VWQ\",\"userName\":\"deploy-bot\"},"
    "\"eventTime\":\"2024-03-01T10:05:18Z\",\"eventSource\":\"ec2.amazonaws.com\",\"eventName\":"
    "\"DescribeInstances\",\"awsRegion\":\"eu-west-1\",\"sourceIPAddress\":\"203.0.113.25\","
    "\"userAgent\":\"aws-cli/2.15.30 md/awscrt#0.19.19 ua/2.0 os/linux#6.1.0 md/arch#x86_64 lang/python#3.11.8 "
    "md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe md/distrib#debian.12 md/prompt#off "
    "md/command#ec2.describe-instances\",\"errorCode\":\"Client.UnauthorizedOperation\","
    "\"errorMessage\":\"You are not authorized to perform this operation.\",\"requestParameters\":"
    "{\"instancesSet\":{},\"filterSet\":{}},\"responseElements\":null,\"requestID\":"
    "\"0f1e2d3c-4b5a-4697-8877-a6b5c4d3e2f1\",\"eventID\":\"6a7b8c9d-0e1f-4a2b-b3c4-d5e6f7a8b9c0\","
    "\"readOnly\":true,\"eventType\":\"AwsApiCall\",\"managementEvent\":true,\"recipientAccountId\":"
    "\"123456789012\",\"eventCategory\":\"Management\",\"tlsDetails\":{\"tlsVersion\":\"TLSv1.3\","
    "\"cipherSuite\":\"TLS_AES_128_GCM_SHA256\",\"clientProvidedHostHeader\":"
    "\"ec2.eu-west-1.amazonaws.com\"}},\n"
    "{\"eventVersion\":\"1.08\",\"userIdentity\":{\"type\":\"AWSService\",\"invokedBy\":"
    "\"lambda.amazonaws.com\"},\"eventTime\":\"2024-03-01T10:05:19Z\",\"eventSource\":"
    "\"sts.amazonaws.com\",\"eventName\":\"AssumeRole\",\"awsRegion\":\"us-east-1\","
    "\"sourceIPAddress\":\"lambda.amazonaws.com\",\"userAgent\":\"lambda.amazonaws.com\","
    "\"requestParameters\":{\"roleArn\":\"arn:aws:iam::123456789012:role/service-role/"
    "orders-handler-role\",\"roleSessionName\":\"orders-handler\"},\"responseElements\":"
    "{\"credentials\":{\"accessKeyId\":\"ASIA4EXAMPLEZ8KD2PQR\",\"sessionToken\":"
    "\"IQoJb3JpZ2luX2VjEXAMPLETOKEN\",\"expiration\":\"Mar 1, 2024, 10:05:19 PM\"}},"
    "\"requestID\":\"9e8d7c6b-5a49-4382-a716-f5e4d3c2b1a0\",\"eventID\":"
    "\"3b4c5d6e-7f80-4192-a3b4-c5d6e7f8091a\",\"readOnly\":true,\"resources\":[{\"accountId\":"
    "\"123456789012\",\"type\":\"AWS::IAM::Role\",\"ARN\":\"arn:aws:iam::123456789012:role/"
    "service-role/orders-handler-role\"}],\"eventType\":\"AwsApiCall\",\"managementEvent\":true,"
    "\"recipientAccountId\":\"123456789012\",\"sharedEventID\":\"0a9b8c7d-6e5f-4a3b-9c2d-1e0f9a8b7c6d\","
    "\"eventCategory\":\"Management\"}\n";

#define SAMPLE_LEN (sizeof ct_sample - 1)

/* Where in the sample each window byte has each nibble: bit p of lo[i][v]
 * is set when ct_sample[p + i] has low nibble v (hi: high nibble). */
#define SAMPLE_WORDS ((SAMPLE_LEN - FP + 1 + 63) / 64)
typedef struct {
    uint64_t lo[FP][16][SAMPLE_WORDS];
    uint64_t hi[FP][16][SAMPLE_WORDS];
} sample_maps;

static sample_maps *make_sample_maps(void)
{
    sample_maps *sm = calloc(1, sizeof *sm);
    if (!sm)
        return NULL;
    const uint8_t *p = (const uint8_t *)ct_sample;
    for (size_t at = 0; at + FP <= SAMPLE_LEN; at++) {
        for (size_t i = 0; i < FP; i++) {
            uint8_t c = p[at + i];
            sm->lo[i][c & 15][at / 64] |= 1ull << (at % 64);
            sm->hi[i][c >> 4][at / 64] |= 1ull << (at % 64);
        }
    }
    return sm;
}

/* The bytes a Teddy window byte accepts: every byte whose low nibble is in
 * lo and high nibble in hi (bit i = nibble i). */
typedef struct {
    uint16_t lo[FP], hi[FP];
    double mult;   /* how much more often than its bytes suggest a member window passes (max) */
} nibsets;

/* byte_ppm summed over the bytes of high nibble h whose low nibble is in
 * the 8 nibbles of one half of a low-nibble set: set_prob is called some
 * 100,000 times while placing 64 needles, and with these it is a sum over
 * the high nibbles only (integers, so the sum is the same in any order). */
static uint32_t ppm_lo_half[2][16][256];
static pthread_once_t ppm_once = PTHREAD_ONCE_INIT;

static void ppm_tables_make(void)
{
    for (unsigned half = 0; half < 2; half++)
        for (unsigned h = 0; h < 16; h++)
            for (unsigned bits = 0; bits < 256; bits++) {
                uint32_t sum = 0;
                for (unsigned l = 0; l < 8; l++)
                    if ((bits >> l) & 1)
                        sum += byte_ppm[h << 4 | (half * 8 + l)];
                ppm_lo_half[half][h][bits] = sum;
            }
}

static double set_prob(uint16_t lo, uint16_t hi)
{
    if (lo == 0xffff && hi == 0xffff)
        return 1.0;
    pthread_once(&ppm_once, ppm_tables_make);
    uint64_t p = 0;
    for (unsigned bits = hi; bits; bits &= bits - 1) {
        unsigned h = (unsigned)__builtin_ctz(bits);
        p += ppm_lo_half[0][h][lo & 0xff] + ppm_lo_half[1][h][lo >> 8];
    }
    return (double)p / 1e6;
}

/* A bucket's nibble sets as sample positions: per window byte, where the
 * sample has an accepted low (lo) and high (hi) nibble; any: every byte. */
typedef struct {
    uint64_t lo[FP][SAMPLE_WORDS], hi[FP][SAMPLE_WORDS];
    int any[FP];
} sample_union;

static void union_of(const sample_maps *sm, const nibsets *s, sample_union *u)
{
    memset(u, 0, sizeof *u);
    for (size_t i = 0; i < FP; i++) {
        u->any[i] = s->lo[i] == 0xffff && s->hi[i] == 0xffff;
        for (unsigned v = 0; v < 16; v++) {
            if ((s->lo[i] >> v) & 1)
                for (size_t w = 0; w < SAMPLE_WORDS; w++)
                    u->lo[i][w] |= sm->lo[i][v][w];
            if ((s->hi[i] >> v) & 1)
                for (size_t w = 0; w < SAMPLE_WORDS; w++)
                    u->hi[i][w] |= sm->hi[i][v][w];
        }
    }
}

/* Per byte of the sample, the windows that pass u with s added (s: one
 * needle's window, or nothing). */
static double sample_rate(const sample_maps *sm, const sample_union *u, const nibsets *s)
{
    const uint64_t *lo[FP][17], *hi[FP][17];
    size_t nlo[FP], nhi[FP];
    int any[FP];
    for (size_t i = 0; i < FP; i++) {
        any[i] = u->any[i] || (s->lo[i] == 0xffff && s->hi[i] == 0xffff);
        nlo[i] = nhi[i] = 0;
        lo[i][nlo[i]++] = u->lo[i];
        hi[i][nhi[i]++] = u->hi[i];
        for (unsigned v = 0; v < 16; v++) {
            if ((s->lo[i] >> v) & 1)
                lo[i][nlo[i]++] = sm->lo[i][v];
            if ((s->hi[i] >> v) & 1)
                hi[i][nhi[i]++] = sm->hi[i][v];
        }
    }
    size_t pass = 0;
    for (size_t w = 0; w < SAMPLE_WORDS; w++) {
        uint64_t acc = ~0ull;
        for (size_t i = 0; i < FP && acc; i++) {
            if (any[i])
                continue;
            uint64_t l = 0, h = 0;
            for (size_t t = 0; t < nlo[i]; t++)
                l |= lo[i][t][w];
            for (size_t t = 0; t < nhi[i]; t++)
                h |= hi[i][t][w];
            acc &= l & h;
        }
        pass += (size_t)__builtin_popcountll(acc);
    }
    return (double)pass / SAMPLE_LEN;
}

/*
 * Marks the bytes of the needle that spell a JSON key: a quoted name and
 * its colon ("name":), or the tail of one at the needle's start (name":).
 * Every record repeats its keys, so a window inside one passes about once
 * a record, whatever its bytes.
 */
static void key_bytes(const needle *nd, uint8_t *in_key)
{
    memset(in_key, 0, nd->len);
    for (size_t j = 0; j + 1 < nd->len; j++) {
        if (nd->bytes[j] != '"' || nd->bytes[j + 1] != ':')
            continue;
        size_t i = j;
        while (i > 0 && nd->bytes[i - 1] != '"')
            i--;
        for (size_t t = i > 0 ? i - 1 : 0; t <= j + 1; t++)
            in_key[t] = 1;
    }
}

/* JSON punctuation pairs that follow each other far more often than the
 * bytes' own frequencies say. */
static int structural_pair(uint8_t a, uint8_t b)
{
    return (a == '"' && (b == ':' || b == ',' || b == '}')) ||
           ((a == ':' || a == ',' || a == '{' || a == '[') && b == '"') ||
           (a == '}' && (b == ',' || b == ']' || b == '}')) || (a == ',' && b == '{') ||
           (a == '[' && b == '{');
}

/* The window at off of a needle: its nibble sets, and how much more often
 * than independent bytes it is expected to pass. */
static void window_sets(const needle *nd, size_t off, const uint8_t *in_key, nibsets *s)
{
    int all_key = 1;
    s->mult = 1;
    for (size_t i = 0; i < FP; i++) {
        size_t at = off + i;
        if (at >= nd->len) {           /* a 2-byte needle: any byte */
            s->lo[i] = s->hi[i] = 0xffff;
            continue;
        }
        uint8_t c = nd->bytes[at];
        s->lo[i] = (uint16_t)(1u << (c & 15));
        s->hi[i] = (uint16_t)(1u << (c >> 4));
        if (nd->fold[at])
            s->hi[i] |= (uint16_t)(1u << ((c ^ 0x20) >> 4));
        if (!in_key[at])
            all_key = 0;
        if (i > 0 && structural_pair(nd->bytes[at - 1], c))
            s->mult *= 0.5 / set_prob(s->lo[i], s->hi[i]);
    }
    double p = 1;
    for (size_t i = 0; i < FP; i++)
        p *= set_prob(s->lo[i], s->hi[i]);
    if (all_key && p * s->mult < 1.0 / 1024)
        s->mult = 1.0 / 1024 / p;
}

static void sets_or(nibsets *a, const nibsets *b)
{
    for (size_t i = 0; i < FP; i++) {
        a->lo[i] |= b->lo[i];
        a->hi[i] |= b->hi[i];
    }
    if (b->mult > a->mult)
        a->mult = b->mult;
}

/* What a candidate costs: finding its lane and bucket, a hash probe, about
 * one compare. */
static double candidate_cost(unsigned members)
{
    return 4.0 + 0.25 * members;
}

/* How often windows pass the nibble sets s by chance, bytes taken as
 * independent (times s->mult). */
static double indep_rate(const nibsets *s)
{
    double p = s->mult;
    for (size_t i = 0; i < FP; i++)
        p *= set_prob(s->lo[i], s->hi[i]);
    return p < 1 ? p : 1;
}

/* Expected work per buffer byte for a bucket with nibble sets s (whose
 * sample positions are u, plus add): how often its windows pass, the
 * larger of the byte model and the sample, times a candidate's cost.
 * Lower than limit is all the caller needs: at or above, it may return
 * the byte model's part alone. */
static double bucket_cost(const sample_maps *sm, const sample_union *u, const nibsets *s,
                          const nibsets *add, unsigned members, double limit)
{
    if (members == 0)
        return 0;
    double p = indep_rate(s);
    if (p * candidate_cost(members) >= limit || !sm)
        return p * candidate_cost(members);
    double seen = sample_rate(sm, u, add);
    return (seen > p ? seen : p) * candidate_cost(members);
}

#define WINDOW_CHOICES 8

/*
 * Places each needle's window and bucket. Greedy, then a few rounds of
 * moving single needles where that lowers the total expected cost: needles
 * whose windows share nibbles end up together, and the needles most likely
 * to pass by chance get buckets of their own.
 */
static void assign_buckets(prefilter *pf)
{
    size_t n = pf->n;
    size_t cand[PREFILTER_MAX_NEEDLES][WINDOW_CHOICES];
    nibsets cand_sets[PREFILTER_MAX_NEEDLES][WINDOW_CHOICES];
    unsigned ncand[PREFILTER_MAX_NEEDLES];
    double alone[PREFILTER_MAX_NEEDLES];
    unsigned order[PREFILTER_MAX_NEEDLES];
    int bucket[PREFILTER_MAX_NEEDLES];
    unsigned choice[PREFILTER_MAX_NEEDLES];
    static const nibsets none;
    /* the sample, and each bucket's sets on it; without memory, no sample */
    sample_maps *sm = make_sample_maps();
    sample_union *u = sm ? calloc(NBUCKETS + 1, sizeof *u) : NULL;
    if (!u) {
        free(sm);
        sm = NULL;
    }
    sample_union *empty = u ? &u[NBUCKETS] : NULL;

    for (size_t k = 0; k < n; k++) {
        const needle *nd = &pf->needles[k];
        double best[WINDOW_CHOICES];
        uint8_t in_key[64];
        key_bytes(nd, in_key);
        ncand[k] = 0;
        size_t last = nd->len >= FP ? nd->len - FP : 0;
        for (size_t off = 0; off <= last; off++) {
            nibsets s;
            window_sets(nd, off, in_key, &s);
            double limit = ncand[k] == WINDOW_CHOICES ? best[WINDOW_CHOICES - 1] : HUGE_VAL;
            double p = bucket_cost(sm, empty, &s, &s, 1, limit);
            unsigned at = ncand[k];
            if (at == WINDOW_CHOICES) {
                if (p >= best[WINDOW_CHOICES - 1])
                    continue;
                at--;
            } else {
                ncand[k]++;
            }
            while (at > 0 && best[at - 1] > p) {
                best[at] = best[at - 1];
                cand[k][at] = cand[k][at - 1];
                cand_sets[k][at] = cand_sets[k][at - 1];
                at--;
            }
            best[at] = p;
            cand[k][at] = off;
            cand_sets[k][at] = s;
        }
        alone[k] = best[0];
        order[k] = (unsigned)k;
        bucket[k] = -1;
    }
    /* most likely to pass by chance first */
    for (size_t i = 1; i < n; i++) {
        unsigned v = order[i];
        size_t j = i;
        while (j > 0 && alone[order[j - 1]] < alone[v]) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = v;
    }

    nibsets bs[NBUCKETS];
    unsigned bn[NBUCKETS];
    double bcost[NBUCKETS];
    memset(bs, 0, sizeof bs);
    memset(bn, 0, sizeof bn);
    for (int b = 0; b < NBUCKETS; b++)
        bcost[b] = 0;
    for (int round = 0; round < 4; round++) {
        int moved = 0;
        for (size_t oi = 0; oi < n; oi++) {
            unsigned k = order[oi];
            double cur = 0;
            int b0 = bucket[k];
            if (b0 >= 0) {
                /* take k out of its bucket */
                nibsets rest;
                memset(&rest, 0, sizeof rest);
                for (size_t m = 0; m < n; m++)
                    if (m != k && bucket[m] == b0)
                        sets_or(&rest, &cand_sets[m][choice[m]]);
                bs[b0] = rest;
                bn[b0]--;
                if (u)
                    union_of(sm, &bs[b0], &u[b0]);
                double c0 = bucket_cost(sm, u ? &u[b0] : NULL, &bs[b0], &none, bn[b0], HUGE_VAL);
                cur = bcost[b0] - c0;
                bcost[b0] = c0;
            }
            int best_b = -1;
            unsigned best_c = 0;
            double best_d = HUGE_VAL;
            for (int b = 0; b < NBUCKETS; b++) {
                for (unsigned c = 0; c < ncand[k]; c++) {
                    nibsets s = bs[b];
                    sets_or(&s, &cand_sets[k][c]);
                    double d = bucket_cost(sm, u ? &u[b] : NULL, &s, &cand_sets[k][c], bn[b] + 1,
                                           best_d + bcost[b]) - bcost[b];
                    if (d < best_d) {
                        best_b = b;
                        best_c = c;
                        best_d = d;
                    }
                }
            }
            if (b0 >= 0 && !(best_d < cur * (1 - 1e-9))) {
                best_b = b0;   /* no real gain: stay */
                best_c = choice[k];
                best_d = cur;
            } else if (b0 >= 0) {
                moved = 1;
            }
            bucket[k] = best_b;
            choice[k] = best_c;
            sets_or(&bs[best_b], &cand_sets[k][best_c]);
            bn[best_b]++;
            bcost[best_b] += best_d;
            if (u)
                union_of(sm, &bs[best_b], &u[best_b]);
        }
        if (round > 0 && !moved)
            break;
    }
    free(u);
    free(sm);
    for (size_t k = 0; k < n; k++) {
        pf->needles[k].off = cand[k][choice[k]];
        pf->needles[k].bucket = (unsigned)bucket[k];
    }
}

/*
 * The placements made so far in this process, by needle set: every
 * scanner of a run (one per worker) builds the same prefilters, and
 * placing 64 needles costs tens of milliseconds, before the scan starts.
 * Placing is deterministic, so a copy is as good. At most PLACEMENTS_MAX
 * are kept, for the process's life (found from a static: not a leak).
 */
#define PLACEMENTS_MAX 32
typedef struct {
    size_t n;
    needle needles[PREFILTER_MAX_NEEDLES];   /* as placed: off and bucket set */
} placement;

static placement *placements[PLACEMENTS_MAX];
static size_t nplacements;
static pthread_mutex_t placements_lock = PTHREAD_MUTEX_INITIALIZER;

static int same_needles(const placement *pl, const prefilter *pf)
{
    if (pl->n != pf->n)
        return 0;
    for (size_t k = 0; k < pf->n; k++) {
        const needle *a = &pl->needles[k], *b = &pf->needles[k];
        if (a->len != b->len || memcmp(a->bytes, b->bytes, a->len) != 0 || memcmp(a->fold, b->fold, a->len) != 0)
            return 0;
    }
    return 1;
}

/* Sets each needle's window and bucket: a copy of an earlier placement of
 * the same needles, or placed now (and kept). */
static void place_needles(prefilter *pf)
{
    pthread_mutex_lock(&placements_lock);
    for (size_t i = 0; i < nplacements; i++)
        if (same_needles(placements[i], pf)) {
            for (size_t k = 0; k < pf->n; k++) {
                pf->needles[k].off = placements[i]->needles[k].off;
                pf->needles[k].bucket = placements[i]->needles[k].bucket;
            }
            pthread_mutex_unlock(&placements_lock);
            return;
        }
    pthread_mutex_unlock(&placements_lock);
    assign_buckets(pf);
    placement *pl = malloc(sizeof *pl);
    if (!pl)
        return;                        /* placed all the same, only not kept */
    pl->n = pf->n;
    memcpy(pl->needles, pf->needles, pf->n * sizeof *pf->needles);
    pthread_mutex_lock(&placements_lock);
    if (nplacements < PLACEMENTS_MAX) {
        placements[nplacements++] = pl;
        pl = NULL;
    }
    pthread_mutex_unlock(&placements_lock);
    free(pl);
}

/* The Teddy nibble tables, the scalar tables and the offsets' range, from
 * the needles' windows and buckets. */
static void build_tables(prefilter *pf)
{
    size_t n = pf->n;
    memset(pf->lo, 0, sizeof pf->lo);
    memset(pf->hi, 0, sizeof pf->hi);
    memset(pf->tab, 0, sizeof pf->tab);
    memset(pf->bucket_n, 0, sizeof pf->bucket_n);
    pf->off_min = SIZE_MAX;
    pf->off_max = 0;
    pf->raw_lo = 1;
    for (size_t k = 0; k < n; k++) {
        needle *nd = &pf->needles[k];
        pf->bucket_needles[nd->bucket][pf->bucket_n[nd->bucket]++] = (uint8_t)k;
        if (nd->off < pf->off_min)
            pf->off_min = nd->off;
        if (nd->off > pf->off_max)
            pf->off_max = nd->off;
        uint8_t bit = (uint8_t)(1u << nd->bucket);
        for (size_t i = 0; i < FP; i++) {
            size_t at = nd->off + i;
            if (at >= nd->len) {
                pf->raw_lo = 0;
                for (unsigned v = 0; v < 256; v++)
                    pf->tab[i][v] |= 1ull << k;
                for (unsigned v = 0; v < 32; v++) {
                    pf->lo[i][v] |= bit;
                    pf->hi[i][v] |= bit;
                }
                continue;
            }
            uint8_t c = nd->bytes[at];
            if (c >= 0x80)
                pf->raw_lo = 0;
            pf->tab[i][c] |= 1ull << k;
            pf->lo[i][c & 15] |= bit;
            pf->lo[i][16 + (c & 15)] |= bit;
            pf->hi[i][c >> 4] |= bit;
            pf->hi[i][16 + (c >> 4)] |= bit;
            if (nd->fold[at]) {
                uint8_t other = c ^ 0x20;
                pf->tab[i][other] |= 1ull << k;
                pf->hi[i][other >> 4] |= bit;
                pf->hi[i][16 + (other >> 4)] |= bit;
            }
        }
    }
}

static inline uint64_t ld64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static inline unsigned key_hash(uint64_t key)
{
    return (unsigned)((key * 0x9E3779B97F4A7C15ull) >> (64 - KEY_BITS));
}

/* Needle k's 8 key bytes at window-relative offset at (only the bytes
 * inside mask matter; the others are 0). */
static uint64_t needle_key(const needle *nd, ptrdiff_t at, uint64_t mask, uint64_t fold)
{
    uint8_t w[8];
    for (size_t i = 0; i < 8; i++) {
        ptrdiff_t t = (ptrdiff_t)nd->off + at + (ptrdiff_t)i;
        w[i] = t >= 0 && t < (ptrdiff_t)nd->len ? nd->bytes[t] : 0;
    }
    return (ld64(w) | fold) & mask;
}

/*
 * For each bucket, the 8 bytes around the window that tell its needles
 * apart best: of the window-relative bytes [lo, hi) that all of them have,
 * the 8-byte stretch where their keys differ most.
 */
static void build_confirm(prefilter *pf)
{
    memset(pf->key_head, NO_NEEDLE, sizeof pf->key_head);
    memset(pf->key_next, NO_NEEDLE, sizeof pf->key_next);
    for (unsigned b = 0; b < NBUCKETS; b++) {
        unsigned m = pf->bucket_n[b];
        pf->key_at[b] = 0;
        pf->key_mask[b] = pf->key_fold[b] = 0;
        if (m == 0)
            continue;
        ptrdiff_t lo = PTRDIFF_MIN, hi = PTRDIFF_MAX;
        for (unsigned i = 0; i < m; i++) {
            const needle *nd = &pf->needles[pf->bucket_needles[b][i]];
            if (-(ptrdiff_t)nd->off > lo)
                lo = -(ptrdiff_t)nd->off;
            if ((ptrdiff_t)(nd->len - nd->off) < hi)
                hi = (ptrdiff_t)(nd->len - nd->off);
        }
        int best_distinct = -1, best_bytes = -1;
        for (ptrdiff_t at = lo - 7; at < hi; at++) {
            uint64_t mask = 0, fold = 0;
            int bytes = 0;
            for (ptrdiff_t i = 0; i < 8; i++) {
                if (at + i < lo || at + i >= hi)
                    continue;
                mask |= 0xffull << (8 * i);
                bytes++;
                for (unsigned k = 0; k < m; k++) {
                    const needle *nd = &pf->needles[pf->bucket_needles[b][k]];
                    fold |= (uint64_t)nd->fold[nd->off + at + i] << (8 * i);
                }
            }
            uint64_t keys[PREFILTER_MAX_NEEDLES];
            int distinct = 0;
            for (unsigned k = 0; k < m; k++) {
                keys[k] = needle_key(&pf->needles[pf->bucket_needles[b][k]], at, mask, fold);
                unsigned d = 0;
                while (d < k && keys[d] != keys[k])
                    d++;
                distinct += d == k;
            }
            if (distinct > best_distinct || (distinct == best_distinct && bytes > best_bytes)) {
                best_distinct = distinct;
                best_bytes = bytes;
                pf->key_at[b] = at;
                pf->key_mask[b] = mask;
                pf->key_fold[b] = fold;
            }
        }
        /* chain in reverse so each list runs in needle order */
        for (unsigned i = m; i-- > 0;) {
            unsigned k = pf->bucket_needles[b][i];
            unsigned h = key_hash(needle_key(&pf->needles[k], pf->key_at[b], pf->key_mask[b],
                                             pf->key_fold[b]));
            pf->key_next[k] = pf->key_head[b][h];
            pf->key_head[b][h] = (uint8_t)k;
        }
    }
}

/* ---- create ------------------------------------------------------------- */

static int cpu_has(enum prefilter_impl impl)
{
    switch (impl) {
    case PREFILTER_IMPL_SCALAR:
        return 1;
#if PF_X86
    case PREFILTER_IMPL_RARE_AVX2:
    case PREFILTER_IMPL_TEDDY_AVX2:
        return __builtin_cpu_supports("avx2");
    case PREFILTER_IMPL_TEDDY_SSSE3:
        return __builtin_cpu_supports("ssse3");
#endif
    default:
        return 0;
    }
}

static enum prefilter_impl auto_impl(size_t n)
{
    if (cpu_has(PREFILTER_IMPL_TEDDY_AVX2))
        return n <= RARE_AUTO_MAX ? PREFILTER_IMPL_RARE_AVX2 : PREFILTER_IMPL_TEDDY_AVX2;
    if (cpu_has(PREFILTER_IMPL_TEDDY_SSSE3))
        return PREFILTER_IMPL_TEDDY_SSSE3;
    return PREFILTER_IMPL_SCALAR;
}

static int is_letter(uint8_t c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

prefilter *prefilter_create_ex(const char *const *needles, const unsigned *flags, size_t n)
{
    if (n == 0 || n > PREFILTER_MAX_NEEDLES)
        return NULL;
    prefilter *pf = aligned_alloc(32, (sizeof *pf + 31) / 32 * 32);
    if (!pf)
        return NULL;
    memset(pf, 0, sizeof *pf);
    for (size_t i = 0; i < n; i++) {
        needle *nd = &pf->needles[i];
        unsigned fl = flags ? flags[i] : 0;
        nd->len = strlen(needles[i]);
        if (nd->len < 2 || nd->len > sizeof nd->bytes || (fl & ~PREFILTER_NOCASE)) {
            free(pf);
            return NULL;
        }
        memcpy(nd->bytes, needles[i], nd->len);
        if (fl & PREFILTER_NOCASE) {
            for (size_t j = 0; j < nd->len; j++) {
                if (is_letter(nd->bytes[j])) {
                    nd->bytes[j] |= 0x20;
                    nd->fold[j] = 0x20;
                    pf->any_fold = 1;
                }
            }
        }
        size_t a = 0;
        for (size_t j = 1; j < nd->len; j++)
            if (byte_commonness(nd->bytes[j]) < byte_commonness(nd->bytes[a]))
                a = j;
        size_t b = a == 0 ? 1 : 0;
        for (size_t j = 0; j < nd->len; j++)
            if (j != a && byte_commonness(nd->bytes[j]) < byte_commonness(nd->bytes[b]))
                b = j;
        nd->rare1 = a < b ? a : b;
        nd->rare2 = a < b ? b : a;
        if (nd->len > pf->max_len)
            pf->max_len = nd->len;
    }
    pf->n = n;
    place_needles(pf);
    build_tables(pf);
    build_confirm(pf);
    pf->impl = auto_impl(n);
    return pf;
}

prefilter *prefilter_create(const char *const *needles, size_t n)
{
    return prefilter_create_ex(needles, NULL, n);
}

void prefilter_free(prefilter *pf)
{
    free(pf);
}

size_t prefilter_max_len(const prefilter *pf)
{
    return pf->max_len;
}

int prefilter_set_impl(prefilter *pf, enum prefilter_impl impl)
{
    if (impl == PREFILTER_IMPL_AUTO) {
        pf->impl = auto_impl(pf->n);
        return 0;
    }
    if (!cpu_has(impl))
        return -1;
    pf->impl = impl;
    return 0;
}

enum prefilter_impl prefilter_get_impl(const prefilter *pf)
{
    return pf->impl;
}

/* ---- verify ------------------------------------------------------------- */

typedef struct {
    const prefilter *pf;
    const uint8_t *buf;
    size_t len, from, to;
    uint64_t count_mask;
    uint64_t *counts;
    prefilter_hits *out;
    size_t before;      /* out->len when the scan began */
    int disorder;       /* a hit was appended out of (offset, needle) order */
} scan_ctx;

static inline uint32_t ld32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static inline uint16_t ld16(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, 2);
    return v;
}

/* Does the needle match at p (nd->len readable bytes)? Word compares,
 * the last one overlapping, each byte ORed with its fold bit. */
static inline int needle_eq(const needle *nd, const uint8_t *p)
{
    size_t n = nd->len;
    const uint8_t *b = nd->bytes, *f = nd->fold;
    if (n >= 8) {
        for (size_t i = 0; i + 8 < n; i += 8)
            if ((ld64(p + i) | ld64(f + i)) != ld64(b + i))
                return 0;
        return (ld64(p + n - 8) | ld64(f + n - 8)) == ld64(b + n - 8);
    }
    if (n >= 4)
        return (ld32(p) | ld32(f)) == ld32(b) &&
               (ld32(p + n - 4) | ld32(f + n - 4)) == ld32(b + n - 4);
    return (ld16(p) | ld16(f)) == ld16(b) && (ld16(p + n - 2) | ld16(f + n - 2)) == ld16(b + n - 2);
}

/* Records or counts a match of needle k at offset at. */
static int emit(scan_ctx *c, unsigned k, size_t at)
{
    if ((c->count_mask >> k) & 1) {
        c->counts[k]++;
        return 0;
    }
    prefilter_hits *out = c->out;
    if (out->len > c->before) {
        const prefilter_hit *last = &out->hits[out->len - 1];
        if (last->offset > at || (last->offset == at && last->needle > k))
            c->disorder = 1;
    }
    if (ot_grow(&out->hits, &out->cap, out->len, sizeof *out->hits, 64))
        return -ENOMEM;
    out->hits[out->len].offset = at;
    out->hits[out->len].needle = k;
    out->len++;
    return 0;
}

/* Needle k's window passed the filter at offset j: checks that the needle
 * would start in [from, to) and end within len, then compares it. */
static inline int try_window(scan_ctx *c, unsigned k, size_t j)
{
    const needle *nd = &c->pf->needles[k];
    if (j < c->from + nd->off || j >= c->to + nd->off)
        return 0;
    size_t at = j - nd->off;
    if (nd->len > c->len - at || !needle_eq(nd, c->buf + at))
        return 0;
    return emit(c, k, at);
}

static int cmp_hit(const void *a, const void *b)
{
    const prefilter_hit *x = a, *y = b;
    if (x->offset != y->offset)
        return x->offset < y->offset ? -1 : 1;
    return (x->needle > y->needle) - (x->needle < y->needle);
}

static void sort_hits(prefilter_hit *h, size_t n)
{
    if (n > 32) {
        qsort(h, n, sizeof *h, cmp_hit);
        return;
    }
    for (size_t i = 1; i < n; i++) {
        prefilter_hit v = h[i];
        size_t j = i;
        while (j > 0 && cmp_hit(&h[j - 1], &v) > 0) {
            h[j] = h[j - 1];
            j--;
        }
        h[j] = v;
    }
}

/* ---- scalar ------------------------------------------------------------- */

/* Window offsets [from + off_min, to + off_max) one at a time, each checked
 * against the exact window bytes of every needle at once (a 64-bit mask
 * per table). Bytes past the buffer end pass: the length check rejects. */
static int scan_scalar(scan_ctx *c)
{
    const prefilter *pf = c->pf;
    const uint8_t *buf = c->buf;
    size_t len = c->len;
    size_t j = c->from + pf->off_min;
    size_t end = c->to + pf->off_max < len ? c->to + pf->off_max : len;
    for (; j < end; j++) {
        uint64_t m = pf->tab[0][buf[j]];
        if (!m)
            continue;
        m &= j + 1 < len ? pf->tab[1][buf[j + 1]] : ~0ull;
        m &= j + 2 < len ? pf->tab[2][buf[j + 2]] : ~0ull;
        while (m) {
            unsigned k = (unsigned)__builtin_ctzll(m);
            m &= m - 1;
            if (try_window(c, k, j))
                return -ENOMEM;
        }
    }
    return 0;
}

#if PF_X86

/* ---- Teddy ---------------------------------------------------------------- */

/* r[l] (l < lanes): the buckets whose windows pass at offset j + l. */
static int teddy_verify(scan_ctx *c, const uint8_t *r, uint32_t nonzero, size_t j)
{
    const prefilter *pf = c->pf;
    while (nonzero) {
        unsigned l = (unsigned)__builtin_ctz(nonzero);
        nonzero &= nonzero - 1;
        unsigned bm = r[l];
        size_t at = j + l;
        while (bm) {
            unsigned b = (unsigned)__builtin_ctz(bm);
            bm &= bm - 1;
            if (pf->bucket_n[b] == 1) {
                if (try_window(c, pf->bucket_needles[b][0], at))
                    return -ENOMEM;
                continue;
            }
            ptrdiff_t ka = pf->key_at[b];
            if ((ptrdiff_t)at + ka >= 0 && (ptrdiff_t)at + ka + 8 <= (ptrdiff_t)c->len) {
                uint64_t key = (ld64(c->buf + at + ka) | pf->key_fold[b]) & pf->key_mask[b];
                for (unsigned k = pf->key_head[b][key_hash(key)]; k != NO_NEEDLE; k = pf->key_next[k])
                    if (try_window(c, k, at))
                        return -ENOMEM;
                continue;
            }
            /* the key would reach past the buffer: every needle of the bucket */
            for (unsigned i = 0; i < pf->bucket_n[b]; i++)
                if (try_window(c, pf->bucket_needles[b][i], at))
                    return -ENOMEM;
        }
    }
    return 0;
}

/*
 * The buckets whose windows pass at p[0..32). When raw_lo, no window byte
 * accepts a byte >= 0x80 (no high bytes, no any-byte position), so the low
 * nibble lookup takes the bytes as they are: PSHUFB gives 0 for those.
 */
__attribute__((target("avx2"), always_inline)) static inline __m256i
teddy32(const uint8_t *p, __m256i lo0, __m256i hi0, __m256i lo1, __m256i hi1, __m256i lo2,
        __m256i hi2, const int raw_lo)
{
    const __m256i nib = _mm256_set1_epi8(0x0f);
    __m256i c0 = _mm256_loadu_si256((const __m256i *)p);
    __m256i c1 = _mm256_loadu_si256((const __m256i *)(p + 1));
    __m256i c2 = _mm256_loadu_si256((const __m256i *)(p + 2));
    __m256i l0 = raw_lo ? c0 : _mm256_and_si256(c0, nib);
    __m256i l1 = raw_lo ? c1 : _mm256_and_si256(c1, nib);
    __m256i l2 = raw_lo ? c2 : _mm256_and_si256(c2, nib);
    __m256i r0 = _mm256_and_si256(_mm256_shuffle_epi8(lo0, l0),
                                  _mm256_shuffle_epi8(hi0, _mm256_and_si256(_mm256_srli_epi16(c0, 4), nib)));
    __m256i r1 = _mm256_and_si256(_mm256_shuffle_epi8(lo1, l1),
                                  _mm256_shuffle_epi8(hi1, _mm256_and_si256(_mm256_srli_epi16(c1, 4), nib)));
    __m256i r2 = _mm256_and_si256(_mm256_shuffle_epi8(lo2, l2),
                                  _mm256_shuffle_epi8(hi2, _mm256_and_si256(_mm256_srli_epi16(c2, 4), nib)));
    return _mm256_and_si256(r0, _mm256_and_si256(r1, r2));
}

__attribute__((target("avx2"))) static inline int teddy32_verify(scan_ctx *c, __m256i res, size_t j)
{
    uint8_t r[32] __attribute__((aligned(32)));
    _mm256_store_si256((__m256i *)r, res);
    uint32_t nonzero =
        ~(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(res, _mm256_setzero_si256()));
    return teddy_verify(c, r, nonzero, j);
}

/* Window offsets 32 at a time, 64 per loop; the last few (whose loads would
 * pass the buffer end) from a zero-padded copy. */
__attribute__((target("avx2"), always_inline)) static inline int teddy_avx2_loop(scan_ctx *c,
                                                                                 const int raw_lo)
{
    const prefilter *pf = c->pf;
    const uint8_t *buf = c->buf;
    size_t len = c->len;
    size_t j = c->from + pf->off_min;
    size_t end = c->to + pf->off_max < len ? c->to + pf->off_max : len;
    const __m256i lo0 = _mm256_load_si256((const __m256i *)pf->lo[0]);
    const __m256i hi0 = _mm256_load_si256((const __m256i *)pf->hi[0]);
    const __m256i lo1 = _mm256_load_si256((const __m256i *)pf->lo[1]);
    const __m256i hi1 = _mm256_load_si256((const __m256i *)pf->hi[1]);
    const __m256i lo2 = _mm256_load_si256((const __m256i *)pf->lo[2]);
    const __m256i hi2 = _mm256_load_si256((const __m256i *)pf->hi[2]);

    while (j < end && j + 64 + FP - 1 <= len) {
        __m256i a = teddy32(buf + j, lo0, hi0, lo1, hi1, lo2, hi2, raw_lo);
        __m256i b = teddy32(buf + j + 32, lo0, hi0, lo1, hi1, lo2, hi2, raw_lo);
        __m256i any = _mm256_or_si256(a, b);
        if (__builtin_expect(!_mm256_testz_si256(any, any), 0)) {
            if (teddy32_verify(c, a, j) || teddy32_verify(c, b, j + 32))
                return -ENOMEM;
        }
        j += 64;
    }
    while (j < end) {
        const uint8_t *p = buf + j;
        uint8_t tmp[32 + FP - 1];
        if (j + 32 + FP - 1 > len) {
            memset(tmp, 0, sizeof tmp);
            memcpy(tmp, buf + j, len - j);
            p = tmp;
        }
        __m256i a = teddy32(p, lo0, hi0, lo1, hi1, lo2, hi2, raw_lo);
        if (!_mm256_testz_si256(a, a) && teddy32_verify(c, a, j))
            return -ENOMEM;
        j += 32;
    }
    return 0;
}

__attribute__((target("avx2"))) static int teddy_avx2_masked(scan_ctx *c)
{
    return teddy_avx2_loop(c, 0);
}

__attribute__((target("avx2"))) static int teddy_avx2_raw(scan_ctx *c)
{
    return teddy_avx2_loop(c, 1);
}

static int scan_teddy_avx2(scan_ctx *c)
{
    return c->pf->raw_lo ? teddy_avx2_raw(c) : teddy_avx2_masked(c);
}

/* The buckets whose windows pass at p[0..16); raw_lo as in teddy32. */
__attribute__((target("ssse3"), always_inline)) static inline __m128i
teddy16(const uint8_t *p, __m128i lo0, __m128i hi0, __m128i lo1, __m128i hi1, __m128i lo2,
        __m128i hi2, const int raw_lo)
{
    const __m128i nib = _mm_set1_epi8(0x0f);
    __m128i c0 = _mm_loadu_si128((const __m128i *)p);
    __m128i c1 = _mm_loadu_si128((const __m128i *)(p + 1));
    __m128i c2 = _mm_loadu_si128((const __m128i *)(p + 2));
    __m128i l0 = raw_lo ? c0 : _mm_and_si128(c0, nib);
    __m128i l1 = raw_lo ? c1 : _mm_and_si128(c1, nib);
    __m128i l2 = raw_lo ? c2 : _mm_and_si128(c2, nib);
    __m128i r0 = _mm_and_si128(_mm_shuffle_epi8(lo0, l0),
                               _mm_shuffle_epi8(hi0, _mm_and_si128(_mm_srli_epi16(c0, 4), nib)));
    __m128i r1 = _mm_and_si128(_mm_shuffle_epi8(lo1, l1),
                               _mm_shuffle_epi8(hi1, _mm_and_si128(_mm_srli_epi16(c1, 4), nib)));
    __m128i r2 = _mm_and_si128(_mm_shuffle_epi8(lo2, l2),
                               _mm_shuffle_epi8(hi2, _mm_and_si128(_mm_srli_epi16(c2, 4), nib)));
    return _mm_and_si128(r0, _mm_and_si128(r1, r2));
}

__attribute__((target("ssse3"))) static inline int teddy16_verify(scan_ctx *c, __m128i res, size_t j)
{
    uint8_t r[16] __attribute__((aligned(16)));
    _mm_store_si128((__m128i *)r, res);
    uint32_t nonzero = ~(uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(res, _mm_setzero_si128())) & 0xffff;
    return teddy_verify(c, r, nonzero, j);
}

/* 16 positions a step, 32 per loop, with the same tables (their first
 * halves); the tail as in the AVX2 loop. */
__attribute__((target("ssse3"), always_inline)) static inline int teddy_ssse3_loop(scan_ctx *c,
                                                                                   const int raw_lo)
{
    const prefilter *pf = c->pf;
    const uint8_t *buf = c->buf;
    size_t len = c->len;
    size_t j = c->from + pf->off_min;
    size_t end = c->to + pf->off_max < len ? c->to + pf->off_max : len;
    const __m128i lo0 = _mm_load_si128((const __m128i *)pf->lo[0]);
    const __m128i hi0 = _mm_load_si128((const __m128i *)pf->hi[0]);
    const __m128i lo1 = _mm_load_si128((const __m128i *)pf->lo[1]);
    const __m128i hi1 = _mm_load_si128((const __m128i *)pf->hi[1]);
    const __m128i lo2 = _mm_load_si128((const __m128i *)pf->lo[2]);
    const __m128i hi2 = _mm_load_si128((const __m128i *)pf->hi[2]);
    const __m128i zero = _mm_setzero_si128();

    while (j < end && j + 32 + FP - 1 <= len) {
        __m128i a = teddy16(buf + j, lo0, hi0, lo1, hi1, lo2, hi2, raw_lo);
        __m128i b = teddy16(buf + j + 16, lo0, hi0, lo1, hi1, lo2, hi2, raw_lo);
        if (__builtin_expect(_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_or_si128(a, b), zero)) != 0xffff, 0)) {
            if (teddy16_verify(c, a, j) || teddy16_verify(c, b, j + 16))
                return -ENOMEM;
        }
        j += 32;
    }
    while (j < end) {
        const uint8_t *p = buf + j;
        uint8_t tmp[16 + FP - 1];
        if (j + 16 + FP - 1 > len) {
            memset(tmp, 0, sizeof tmp);
            memcpy(tmp, buf + j, len - j);
            p = tmp;
        }
        if (teddy16_verify(c, teddy16(p, lo0, hi0, lo1, hi1, lo2, hi2, raw_lo), j))
            return -ENOMEM;
        j += 16;
    }
    return 0;
}

__attribute__((target("ssse3"))) static int teddy_ssse3_masked(scan_ctx *c)
{
    return teddy_ssse3_loop(c, 0);
}

__attribute__((target("ssse3"))) static int teddy_ssse3_raw(scan_ctx *c)
{
    return teddy_ssse3_loop(c, 1);
}

static int scan_teddy_ssse3(scan_ctx *c)
{
    return c->pf->raw_lo ? teddy_ssse3_raw(c) : teddy_ssse3_masked(c);
}

/* ---- rare bytes ------------------------------------------------------------ */

/*
 * Starts [from, ...) 32 at a time: for each needle, its two rare bytes are
 * compared at their offsets (ORed with their fold bits when fold), and only
 * positions where both match are compared in full. Hits come out in offset
 * order. Stops where a load would pass len or a start reach to; *from is
 * then the first start not searched. n is a constant after inlining, so
 * the needles' vectors stay in registers.
 */
__attribute__((target("avx2"), always_inline)) static inline int
rare_avx2_loop(scan_ctx *c, size_t *from, const unsigned n, const int fold)
{
    const prefilter *pf = c->pf;
    const uint8_t *buf = c->buf;
    __m256i first[PREFILTER_MAX_NEEDLES], second[PREFILTER_MAX_NEEDLES];
    __m256i fold1[PREFILTER_MAX_NEEDLES], fold2[PREFILTER_MAX_NEEDLES];
    size_t r1[PREFILTER_MAX_NEEDLES], r2[PREFILTER_MAX_NEEDLES];
    for (unsigned k = 0; k < n; k++) {
        const needle *nd = &pf->needles[k];
        r1[k] = nd->rare1;
        r2[k] = nd->rare2;
        first[k] = _mm256_set1_epi8((char)nd->bytes[nd->rare1]);
        second[k] = _mm256_set1_epi8((char)nd->bytes[nd->rare2]);
        fold1[k] = _mm256_set1_epi8((char)nd->fold[nd->rare1]);
        fold2[k] = _mm256_set1_epi8((char)nd->fold[nd->rare2]);
    }
    size_t reach = pf->max_len;   /* how far past a start the loads read */
    size_t pos = *from;
    while (pos + 32 <= c->to && pos + 32 + reach <= c->len) {
        __m256i eq[PREFILTER_MAX_NEEDLES];
        __m256i any = _mm256_setzero_si256();
        for (unsigned k = 0; k < n; k++) {
            __m256i a = _mm256_loadu_si256((const __m256i *)(buf + pos + r1[k]));
            __m256i b = _mm256_loadu_si256((const __m256i *)(buf + pos + r2[k]));
            if (fold) {
                a = _mm256_or_si256(a, fold1[k]);
                b = _mm256_or_si256(b, fold2[k]);
            }
            eq[k] = _mm256_and_si256(_mm256_cmpeq_epi8(a, first[k]), _mm256_cmpeq_epi8(b, second[k]));
            any = _mm256_or_si256(any, eq[k]);
        }
        if (__builtin_expect(!_mm256_testz_si256(any, any), 0)) {
            uint32_t masks[PREFILTER_MAX_NEEDLES];
            for (unsigned k = 0; k < n; k++)
                masks[k] = (uint32_t)_mm256_movemask_epi8(eq[k]);
            uint32_t bits = (uint32_t)_mm256_movemask_epi8(any);
            while (bits) {
                unsigned bit = (unsigned)__builtin_ctz(bits);
                bits &= bits - 1;
                for (unsigned k = 0; k < n; k++)
                    if (((masks[k] >> bit) & 1) && needle_eq(&pf->needles[k], buf + pos + bit) &&
                        emit(c, k, pos + bit))
                        return -ENOMEM;
            }
        }
        pos += 32;
    }
    *from = pos;
    return 0;
}

__attribute__((target("avx2"))) static int rare_avx2_1(scan_ctx *c, size_t *from)
{
    return rare_avx2_loop(c, from, 1, 0);
}

__attribute__((target("avx2"))) static int rare_avx2_2(scan_ctx *c, size_t *from)
{
    return rare_avx2_loop(c, from, 2, 0);
}

__attribute__((target("avx2"))) static int rare_avx2_n(scan_ctx *c, size_t *from)
{
    return rare_avx2_loop(c, from, (unsigned)c->pf->n, 0);
}

__attribute__((target("avx2"))) static int rare_avx2_n_fold(scan_ctx *c, size_t *from)
{
    return rare_avx2_loop(c, from, (unsigned)c->pf->n, 1);
}

/* The rare-byte loop, then the starts it left (near len) by the scalar path. */
static int scan_rare_avx2(scan_ctx *c)
{
    size_t pos = c->from;
    int rc;
    if (c->pf->any_fold)
        rc = rare_avx2_n_fold(c, &pos);
    else if (c->pf->n == 1)
        rc = rare_avx2_1(c, &pos);
    else if (c->pf->n == 2)
        rc = rare_avx2_2(c, &pos);
    else
        rc = rare_avx2_n(c, &pos);
    if (rc)
        return rc;
    c->from = pos;
    return scan_scalar(c);
}

#endif /* PF_X86 */

/* ---- scan ------------------------------------------------------------------ */

int prefilter_scan(const prefilter *pf, const uint8_t *buf, size_t len, size_t from, size_t to,
                   uint64_t count_mask, uint64_t *counts, prefilter_hits *out)
{
    if (to > len)
        to = len;
    if (from >= to)
        return 0;
    scan_ctx c = {pf, buf, len, from, to, count_mask, counts, out, out->len, 0};
    int rc;
    switch (pf->impl) {
#if PF_X86
    case PREFILTER_IMPL_RARE_AVX2:
        rc = scan_rare_avx2(&c);
        break;
    case PREFILTER_IMPL_TEDDY_AVX2:
        rc = scan_teddy_avx2(&c);
        break;
    case PREFILTER_IMPL_TEDDY_SSSE3:
        rc = scan_teddy_ssse3(&c);
        break;
#endif
    default:
        rc = scan_scalar(&c);
        break;
    }
    if (rc)
        return rc;
    if (c.disorder)
        sort_hits(out->hits + c.before, out->len - c.before);
    return 0;
}

void prefilter_hits_free(prefilter_hits *h)
{
    free(h->hits);
    h->hits = NULL;
    h->len = h->cap = 0;
}
