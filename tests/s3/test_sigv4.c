/* SPDX-License-Identifier: MIT */
/*
 * test_sigv4.c - the SigV4 signer (plugins/s3/sigv4.c) against the examples
 * AWS publishes: the four signed S3 requests of "Authenticating Requests:
 * Using the Authorization Header" (GET Object with a range, PUT Object,
 * GET Bucket Lifecycle, GET Bucket list objects), "get-vanilla" of the
 * aws-sig-v4-test-suite and the signing-key example of the IAM guide.
 * A signer that differs in one byte of the canonical request, the scope or
 * the key derivation gets another signature.  Plain C (no server needed).
 */
#include <stdio.h>
#include <string.h>

#include "sigv4.h"

static int failures;

static void expect_sig(const char *name, const s3_sig_req *r, const char *want_sig)
{
    char auth[1024];
    if (s3_sigv4_authorization(r, auth, sizeof auth) != 0) {
        printf("FAIL %s: signer failed\n", name);
        failures++;
        return;
    }
    const char *sig = strstr(auth, "Signature=");
    if (!sig || strcmp(sig + 10, want_sig) != 0) {
        printf("FAIL %s:\n  got  %s\n  want Signature=%s\n", name, auth, want_sig);
        failures++;
    } else {
        printf("ok   %s\n", name);
    }
}

#define S3_AK "AKIAIOSFODNN7EXAMPLE"
#define S3_SK "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define EMPTY_SHA "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

int main(void)
{
    {
        s3_header h[] = {{"host", "examplebucket.s3.amazonaws.com"},
                         {"range", "bytes=0-9"},
                         {"x-amz-content-sha256", EMPTY_SHA},
                         {"x-amz-date", "20130524T000000Z"}};
        s3_sig_req r = {"GET", "/test.txt", "", h, 4, EMPTY_SHA, "20130524T000000Z",
                        "us-east-1", "s3", S3_AK, S3_SK};
        expect_sig("S3 GET Object", &r,
                   "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
    }
    {
        char body_sha[65], uri[64];
        const char *body = "Welcome to Amazon S3.";
        s3_sha256_hex(body, strlen(body), body_sha);
        if (strcmp(body_sha, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072")) {
            printf("FAIL sha256 of the PUT body: %s\n", body_sha);
            failures++;
        }
        uri[0] = '/';
        s3_uri_encode("test$file.text", 14, 1, uri, 1, sizeof uri);
        if (strcmp(uri, "/test%24file.text")) {
            printf("FAIL uri encoding: %s\n", uri);
            failures++;
        }
        s3_header h[] = {{"date", "Fri, 24 May 2013 00:00:00 GMT"},
                         {"host", "examplebucket.s3.amazonaws.com"},
                         {"x-amz-date", "20130524T000000Z"},
                         {"x-amz-storage-class", "REDUCED_REDUNDANCY"},
                         {"x-amz-content-sha256", body_sha}};
        s3_sig_req r = {"PUT", uri, "", h, 5, body_sha, "20130524T000000Z",
                        "us-east-1", "s3", S3_AK, S3_SK};
        expect_sig("S3 PUT Object", &r,
                   "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
    }
    {
        s3_header h[] = {{"host", "examplebucket.s3.amazonaws.com"},
                         {"x-amz-content-sha256", EMPTY_SHA},
                         {"x-amz-date", "20130524T000000Z"}};
        s3_sig_req r = {"GET", "/", "lifecycle=", h, 3, EMPTY_SHA, "20130524T000000Z",
                        "us-east-1", "s3", S3_AK, S3_SK};
        expect_sig("S3 GET Bucket Lifecycle", &r,
                   "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
        s3_sig_req l = {"GET", "/", "max-keys=2&prefix=J", h, 3, EMPTY_SHA, "20130524T000000Z",
                        "us-east-1", "s3", S3_AK, S3_SK};
        expect_sig("S3 GET Bucket (list objects)", &l,
                   "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
    }
    {
        s3_header h[] = {{"x-amz-date", "20150830T123600Z"}, {"host", "example.amazonaws.com"}};
        s3_sig_req r = {"GET", "/", "", h, 2, EMPTY_SHA, "20150830T123600Z", "us-east-1",
                        "service", "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"};
        expect_sig("test suite get-vanilla", &r,
                   "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
    }
    {
        unsigned char k[32];
        char hex[65];
        s3_sigv4_signing_key("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20120215", "us-east-1",
                             "iam", k);
        for (int i = 0; i < 32; i++)
            snprintf(hex + 2 * i, 3, "%02x", k[i]);
        if (strcmp(hex, "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d")) {
            printf("FAIL signing key: %s\n", hex);
            failures++;
        } else {
            printf("ok   signing key derivation\n");
        }
    }
    return failures ? 1 : 0;
}
