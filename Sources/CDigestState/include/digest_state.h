#ifndef BERTH_DIGEST_STATE_H
#define BERTH_DIGEST_STATE_H

/*
 * SHA-256 and SHA-512 whose running state can be saved and restored: an upload's digest is
 * computed on the stream, and another node (or the same one after a restart) carries on from the
 * state saved with the upload instead of reading back what was stored. swift-crypto cannot export
 * a hash's state; OpenSSL's SHA256_CTX and SHA512_CTX are plain structs that can.
 *
 * The saved form is independent of the machine's byte order and of OpenSSL's struct layout:
 *   byte 0       format version (1)
 *   byte 1       algorithm: 1 = SHA-256, 2 = SHA-512
 *   then         the chaining words h[8] (4 or 8 bytes each, big-endian),
 *                the bit count (8 bytes for SHA-256, 16 for SHA-512, big-endian),
 *                the count of buffered bytes (1 byte) and those bytes.
 */

#include <stddef.h>
#include <stdint.h>
#include <openssl/sha.h>

#define BERTH_DIGEST_STATE_MAX 256

/* Streams a whole hash through OpenSSL's low-level calls (their deprecation in OpenSSL 3 is
   about the EVP interface being preferred; these are kept for exactly this kind of use). */
void berth_sha256_init(SHA256_CTX *ctx);
void berth_sha256_update(SHA256_CTX *ctx, const void *data, size_t count);
void berth_sha256_final(SHA256_CTX *ctx, uint8_t out[32]);
void berth_sha512_init(SHA512_CTX *ctx);
void berth_sha512_update(SHA512_CTX *ctx, const void *data, size_t count);
void berth_sha512_final(SHA512_CTX *ctx, uint8_t out[64]);

/* Writes the state to out (at least BERTH_DIGEST_STATE_MAX bytes); returns its length. */
size_t berth_sha256_export(const SHA256_CTX *ctx, uint8_t *out);
size_t berth_sha512_export(const SHA512_CTX *ctx, uint8_t *out);

/* Restores a state written by the export calls; returns 0, or -1 when it is not a valid one. */
int berth_sha256_import(SHA256_CTX *ctx, const uint8_t *in, size_t count);
int berth_sha512_import(SHA512_CTX *ctx, const uint8_t *in, size_t count);

#endif
