#!/usr/bin/env python3
"""Signs S3 requests with botocore, the reference SigV4BotocoreTests.swift compares against.

Reads a JSON list of requests on stdin and prints a JSON list of results on stdout, one per
request, in order. A request:

    {"method": "PUT", "endpoint": "http://127.0.0.1:7480",
     "path": "/bucket/raw key",                      # decoded; quoted here the way botocore does
     "query": [{"name": "uploadId", "value": "x"},   # decoded; a null value is a bare key (?uploads)
               {"name": "uploads", "value": null}],
     "headers": [{"name": "Content-Type", "value": "text/plain"}],
     "payloadHash": "<hex sha256>" or "UNSIGNED-PAYLOAD",
     "timestamp": "20130524T000000Z", "region": "us-east-1",
     "accessKey": "...", "secretKey": "...", "sessionToken": null,
     "presignExpires": null}                         # an integer: presign with S3SigV4QueryAuth

A result: {"url", "canonicalRequest", "stringToSign"} plus, for header signing, "authorization"
and "headers" (x-amz-date, x-amz-content-sha256, x-amz-security-token), or, for presigning,
"presignedURL".

The URL is built with botocore's own quoting (utils.percent_encode, safe="/~" for the key, as its
REST serializer does for {Key+}), because botocore's S3 signers sign the URL's path and query as
they are. Exit status 3 means botocore is not importable.
"""
import json
import sys

try:
    from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    from botocore.utils import percent_encode
except ImportError as error:
    sys.stderr.write(
        f"botocore_sign.py: botocore is not importable by {sys.executable} ({error}); "
        "install it with: apt-get install python3-botocore\n"
    )
    sys.exit(3)


class FixedPayloadS3SigV4Auth(S3SigV4Auth):
    """S3SigV4Auth with the payload hash given rather than computed from a body."""

    def __init__(self, credentials, region, payload_hash):
        super().__init__(credentials, "s3", region)
        self._payload_hash = payload_hash

    def payload(self, request):
        return self._payload_hash


def build_url(spec):
    url = spec["endpoint"] + percent_encode(spec["path"], safe="/~")
    items = []
    for item in spec.get("query") or []:
        if item.get("value") is None:
            items.append(percent_encode(item["name"]))
        else:
            items.append(f"{percent_encode(item['name'])}={percent_encode(item['value'])}")
    if items:
        url += "?" + "&".join(items)
    return url


def sign_with_fixed_clock(signer, request, timestamp):
    """botocore's add_auth() with the clock replaced by `timestamp`, step for step.

    Patching botocore's clock would differ between versions (Debian's older botocore calls
    datetime.utcnow() inline); these four methods are the same in all of them.
    """
    request.context["timestamp"] = timestamp
    signer._modify_request_before_signing(request)
    canonical_request = signer.canonical_request(request)
    string_to_sign = signer.string_to_sign(request, canonical_request)
    signature = signer.signature(string_to_sign, request)
    signer._inject_signature_to_request(request, signature)
    return canonical_request, string_to_sign


def sign(spec):
    url = build_url(spec)
    credentials = Credentials(spec["accessKey"], spec["secretKey"], spec.get("sessionToken"))
    headers = {h["name"]: h["value"] for h in spec.get("headers") or []}
    request = AWSRequest(method=spec["method"], url=url, headers=headers, data=b"")
    expires = spec.get("presignExpires")
    if expires is None:
        signer = FixedPayloadS3SigV4Auth(credentials, spec["region"], spec["payloadHash"])
    else:
        signer = S3SigV4QueryAuth(credentials, "s3", spec["region"], expires=expires)
    canonical_request, string_to_sign = sign_with_fixed_clock(signer, request, spec["timestamp"])
    result = {"url": url, "canonicalRequest": canonical_request, "stringToSign": string_to_sign}
    if expires is None:
        result["authorization"] = request.headers["Authorization"]
        result["headers"] = {
            name: request.headers[name]
            for name in ("x-amz-date", "x-amz-content-sha256", "x-amz-security-token")
            if name in request.headers
        }
    else:
        result["presignedURL"] = request.url
    return result


def main():
    specs = json.load(sys.stdin)
    json.dump([sign(spec) for spec in specs], sys.stdout, indent=1, ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
