/* OpenSSL 3 wrappers. EVP contexts are created per call or per stream so the
 * functions are safe to use from any number of threads. */
#include "core/crypto.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>
#include <string.h>

#include "core/buf.h"
#include "core/error.h"

struct rd_sha256_ctx {
    EVP_MD_CTX *md;
};

void rd_sha256(const void *data, size_t len, uint8_t out[RD_SHA256_LEN])
{
    unsigned int outlen = RD_SHA256_LEN;
    if (!EVP_Digest(data, len, out, &outlen, EVP_sha256(), NULL))
        rd_oom();
}

rd_sha256_ctx *rd_sha256_new(void)
{
    rd_sha256_ctx *ctx = rd_malloc(sizeof *ctx);
    ctx->md = EVP_MD_CTX_new();
    if (!ctx->md || !EVP_DigestInit_ex(ctx->md, EVP_sha256(), NULL))
        rd_oom();
    return ctx;
}

void rd_sha256_update(rd_sha256_ctx *ctx, const void *data, size_t len)
{
    if (!EVP_DigestUpdate(ctx->md, data, len))
        rd_oom();
}

void rd_sha256_final(rd_sha256_ctx *ctx, uint8_t out[RD_SHA256_LEN])
{
    unsigned int outlen = RD_SHA256_LEN;
    if (!EVP_DigestFinal_ex(ctx->md, out, &outlen))
        rd_oom();
}

void rd_sha256_free(rd_sha256_ctx *ctx)
{
    if (!ctx)
        return;
    EVP_MD_CTX_free(ctx->md);
    free(ctx);
}

void rd_hmac_sha256(const void *key, size_t keylen, const void *data, size_t len,
                    uint8_t out[RD_SHA256_LEN])
{
    unsigned int outlen = RD_SHA256_LEN;
    if (!HMAC(EVP_sha256(), key, (int)keylen, data, len, out, &outlen))
        rd_oom();
}

int rd_random_bytes(void *buf, size_t len)
{
    if (RAND_bytes(buf, (int)len) != 1)
        return rd_fail(RD_EINTERNAL, "the system random number generator failed");
    return 0;
}

int rd_aead_seal2(const uint8_t key[RD_AEAD_KEY_LEN], const void *aad, size_t aadlen,
                  const void *p1, size_t l1, const void *p2, size_t l2, uint8_t *out)
{
    uint8_t *nonce = out, *ct = out + RD_AEAD_NONCE_LEN, *tag = ct + l1 + l2;
    int rc = rd_random_bytes(nonce, RD_AEAD_NONCE_LEN);
    if (rc < 0)
        return rc;
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int n1 = 0, n2 = 0, n3 = 0;
    int ok = c && EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, nonce) &&
             (aadlen == 0 || EVP_EncryptUpdate(c, NULL, &n1, aad, (int)aadlen)) &&
             (l1 == 0 || EVP_EncryptUpdate(c, ct, &n1, p1, (int)l1)) &&
             (l2 == 0 || EVP_EncryptUpdate(c, ct + l1, &n2, p2, (int)l2)) &&
             EVP_EncryptFinal_ex(c, ct + l1 + l2, &n3) &&
             EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, RD_AEAD_TAG_LEN, tag);
    EVP_CIPHER_CTX_free(c);
    return ok ? 0 : rd_fail(RD_EINTERNAL, "AES-256-GCM encryption failed");
}

int rd_aead_seal(const uint8_t key[RD_AEAD_KEY_LEN], const void *aad, size_t aadlen,
                 const void *pt, size_t len, uint8_t *out)
{
    return rd_aead_seal2(key, aad, aadlen, pt, len, NULL, 0, out);
}

int rd_aead_open(const uint8_t key[RD_AEAD_KEY_LEN], const void *aad, size_t aadlen,
                 const void *in, size_t inlen, uint8_t *out)
{
    if (inlen < RD_AEAD_OVERHEAD)
        return rd_fail(RD_ECORRUPT, "encrypted data is truncated");
    const uint8_t *nonce = in, *ct = nonce + RD_AEAD_NONCE_LEN;
    size_t len = inlen - RD_AEAD_OVERHEAD;
    uint8_t tag[RD_AEAD_TAG_LEN];
    memcpy(tag, ct + len, RD_AEAD_TAG_LEN);
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int n = 0, ok = c && EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, nonce) &&
                    (aadlen == 0 || EVP_DecryptUpdate(c, NULL, &n, aad, (int)aadlen)) &&
                    EVP_DecryptUpdate(c, out, &n, ct, (int)len) &&
                    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, RD_AEAD_TAG_LEN, tag) &&
                    EVP_DecryptFinal_ex(c, out + n, &n) > 0;
    EVP_CIPHER_CTX_free(c);
    return ok ? 0 : rd_fail(RD_ECORRUPT, "encrypted data failed authentication");
}

int rd_scrypt(const void *pass, size_t passlen, const void *salt, size_t saltlen,
              uint64_t n, uint32_t r, uint32_t p, uint8_t *out, size_t outlen)
{
    if (EVP_PBE_scrypt(pass, passlen, salt, saltlen, n, r, p, 1024ull * 1024 * 1024, out,
                       outlen) != 1)
        return rd_fail(RD_ECORRUPT, "scrypt with N=%llu r=%u p=%u failed (bad parameters)",
                       (unsigned long long)n, r, p);
    return 0;
}

int rd_memeq_ct(const void *a, const void *b, size_t len)
{
    return CRYPTO_memcmp(a, b, len);
}
