/* Cryptography through OpenSSL 3: SHA-256, HMAC-SHA-256, AES-256-GCM with a
 * random nonce, scrypt, and the system CSPRNG. */
#ifndef RD_CORE_CRYPTO_H
#define RD_CORE_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#define RD_SHA256_LEN 32
#define RD_AEAD_KEY_LEN 32
#define RD_AEAD_NONCE_LEN 12
#define RD_AEAD_TAG_LEN 16
/* Bytes a sealed message adds to its plaintext: nonce in front, tag behind. */
#define RD_AEAD_OVERHEAD (RD_AEAD_NONCE_LEN + RD_AEAD_TAG_LEN)

void rd_sha256(const void *data, size_t len, uint8_t out[RD_SHA256_LEN]);

typedef struct rd_sha256_ctx rd_sha256_ctx;
rd_sha256_ctx *rd_sha256_new(void);
void rd_sha256_update(rd_sha256_ctx *ctx, const void *data, size_t len);
void rd_sha256_final(rd_sha256_ctx *ctx, uint8_t out[RD_SHA256_LEN]);
void rd_sha256_free(rd_sha256_ctx *ctx);

void rd_hmac_sha256(const void *key, size_t keylen, const void *data, size_t len,
                    uint8_t out[RD_SHA256_LEN]);

/* Fills buf from the CSPRNG; fails only if the system has no entropy source. */
int rd_random_bytes(void *buf, size_t len);

/* Seals pt into out (len + RD_AEAD_OVERHEAD bytes): nonce || ciphertext || tag,
 * authenticating aad as well. */
int rd_aead_seal(const uint8_t key[RD_AEAD_KEY_LEN], const void *aad, size_t aadlen,
                 const void *pt, size_t len, uint8_t *out);
/* Like rd_aead_seal with the plaintext given in two pieces (p1 then p2), so
 * callers need not copy them together first. */
int rd_aead_seal2(const uint8_t key[RD_AEAD_KEY_LEN], const void *aad, size_t aadlen,
                  const void *p1, size_t l1, const void *p2, size_t l2, uint8_t *out);
/* Opens a sealed message into out (inlen - RD_AEAD_OVERHEAD bytes). Returns
 * -RD_ECORRUPT when the message is short or fails authentication. */
int rd_aead_open(const uint8_t key[RD_AEAD_KEY_LEN], const void *aad, size_t aadlen,
                 const void *in, size_t inlen, uint8_t *out);

int rd_scrypt(const void *pass, size_t passlen, const void *salt, size_t saltlen,
              uint64_t n, uint32_t r, uint32_t p, uint8_t *out, size_t outlen);

/* Constant-time comparison; 0 when equal. */
int rd_memeq_ct(const void *a, const void *b, size_t len);

#endif
