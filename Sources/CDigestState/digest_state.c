#define OPENSSL_SUPPRESS_DEPRECATED 1
#include "digest_state.h"

#include <string.h>

enum { FORMAT_VERSION = 1, ALGORITHM_SHA256 = 1, ALGORITHM_SHA512 = 2 };

void berth_sha256_init(SHA256_CTX *ctx) { SHA256_Init(ctx); }
void berth_sha256_update(SHA256_CTX *ctx, const void *data, size_t count) { SHA256_Update(ctx, data, count); }
void berth_sha256_final(SHA256_CTX *ctx, uint8_t out[32]) { SHA256_Final(out, ctx); }
void berth_sha512_init(SHA512_CTX *ctx) { SHA512_Init(ctx); }
void berth_sha512_update(SHA512_CTX *ctx, const void *data, size_t count) { SHA512_Update(ctx, data, count); }
void berth_sha512_final(SHA512_CTX *ctx, uint8_t out[64]) { SHA512_Final(out, ctx); }

static uint8_t *put(uint8_t *out, uint64_t value, int bytes) {
    for (int i = bytes - 1; i >= 0; i--) *out++ = (uint8_t)(value >> (8 * i));
    return out;
}

static const uint8_t *get(const uint8_t *in, uint64_t *value, int bytes) {
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++) v = (v << 8) | *in++;
    *value = v;
    return in;
}

size_t berth_sha256_export(const SHA256_CTX *ctx, uint8_t *out) {
    uint8_t *p = out;
    *p++ = FORMAT_VERSION;
    *p++ = ALGORITHM_SHA256;
    for (int i = 0; i < 8; i++) p = put(p, ctx->h[i], 4);
    p = put(p, ((uint64_t)ctx->Nh << 32) | ctx->Nl, 8);
    /* OpenSSL fills data[] byte by byte (as unsigned char), so its first num bytes are the input. */
    *p++ = (uint8_t)ctx->num;
    memcpy(p, ctx->data, ctx->num);
    p += ctx->num;
    return (size_t)(p - out);
}

int berth_sha256_import(SHA256_CTX *ctx, const uint8_t *in, size_t count) {
    const size_t fixed = 2 + 8 * 4 + 8 + 1;
    if (count < fixed || in[0] != FORMAT_VERSION || in[1] != ALGORITHM_SHA256) return -1;
    size_t buffered = in[fixed - 1];
    if (buffered >= SHA256_CBLOCK || count != fixed + buffered) return -1;
    SHA256_Init(ctx);
    const uint8_t *p = in + 2;
    uint64_t value;
    for (int i = 0; i < 8; i++) { p = get(p, &value, 4); ctx->h[i] = (SHA_LONG)value; }
    p = get(p, &value, 8);
    ctx->Nh = (SHA_LONG)(value >> 32);
    ctx->Nl = (SHA_LONG)value;
    /* The bit count must agree with the buffered bytes: a corrupt state must not hash on. */
    if ((value / 8) % SHA256_CBLOCK != buffered) return -1;
    p++;
    memset(ctx->data, 0, sizeof ctx->data);
    memcpy(ctx->data, p, buffered);
    ctx->num = (unsigned int)buffered;
    return 0;
}

size_t berth_sha512_export(const SHA512_CTX *ctx, uint8_t *out) {
    uint8_t *p = out;
    *p++ = FORMAT_VERSION;
    *p++ = ALGORITHM_SHA512;
    for (int i = 0; i < 8; i++) p = put(p, ctx->h[i], 8);
    p = put(p, ctx->Nh, 8);
    p = put(p, ctx->Nl, 8);
    *p++ = (uint8_t)ctx->num;
    memcpy(p, ctx->u.p, ctx->num);
    p += ctx->num;
    return (size_t)(p - out);
}

int berth_sha512_import(SHA512_CTX *ctx, const uint8_t *in, size_t count) {
    const size_t fixed = 2 + 8 * 8 + 16 + 1;
    if (count < fixed || in[0] != FORMAT_VERSION || in[1] != ALGORITHM_SHA512) return -1;
    size_t buffered = in[fixed - 1];
    if (buffered >= SHA512_CBLOCK || count != fixed + buffered) return -1;
    SHA512_Init(ctx);
    const uint8_t *p = in + 2;
    uint64_t value;
    for (int i = 0; i < 8; i++) { p = get(p, &value, 8); ctx->h[i] = value; }
    p = get(p, &value, 8);
    ctx->Nh = value;
    p = get(p, &value, 8);
    ctx->Nl = value;
    if ((value / 8) % SHA512_CBLOCK != buffered) return -1;
    p++;
    memset(ctx->u.p, 0, sizeof ctx->u.p);
    memcpy(ctx->u.p, p, buffered);
    ctx->num = (unsigned int)buffered;
    return 0;
}
