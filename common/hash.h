/*
 * hash.h - streaming SHA-256 / SHA-512 over OpenSSL EVP, and hex output.
 *
 * One implementation for both platforms.  rs_hash_new takes the SSH name
 * of the algorithm ("sha256" or "sha512"); anything else is RS_ERR_ALG.
 */
#ifndef RS_HASH_H
#define RS_HASH_H

#include <stddef.h>

#define RS_HASH_MAX	64	/* SHA-512 */
#define RS_SHA256_LEN	32

struct rs_hash;

int	rs_hash_new(const char *alg, struct rs_hash **out);
int	rs_hash_update(struct rs_hash *h, const void *p, size_t n);
/* Writes the digest (up to RS_HASH_MAX bytes) and its length. */
int	rs_hash_final(struct rs_hash *h, unsigned char *md, size_t *mdlen);
void	rs_hash_free(struct rs_hash *h);

/* One-shot SHA-256. */
int	rs_sha256(const void *p, size_t n, unsigned char md[RS_SHA256_LEN]);
/* Lowercase hex of p[0..n) into out, which has room for 2n+1 bytes. */
void	rs_hex(const unsigned char *p, size_t n, char *out);
/*
 * The n bytes written as 2n lowercase hex digits at s (as rs_hex writes
 * them), into out.  RS_ERR_FORMAT for any other character.
 */
int	rs_unhex(const char *s, size_t n, unsigned char *out);
/* Cryptographically strong random bytes (OpenSSL RAND_bytes). */
int	rs_random(void *p, size_t n);

#endif /* RS_HASH_H */
