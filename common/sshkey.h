/*
 * sshkey.h - Ed25519 keys as OpenSSH writes them: the public key blob and
 * line, SHA256 fingerprints, and unencrypted openssh-key-v1 private key
 * files (PROTOCOL.key).
 *
 * API:        sshkey_generate/load/save/free and sshkey_publine,
 *             sshkey_fingerprint, sshkey_sign for a private key;
 *             sshkey_pub_put/get/fingerprint/verify for a bare 32-byte
 *             public key (what a signature or allowed_signers line holds).
 * Ownership:  sshkey_generate and sshkey_load allocate a key the caller
 *             frees with sshkey_free (NULL is fine), which wipes it.
 *             Output that goes to a caller's struct rs_buf is appended; on
 *             failure the buffer is put back to the length it had.
 * Errors:     negative RS_ERR_* codes, said below for each call; nothing
 *             is printed.
 * Trust:      sshkey_load reads the agent's own key file, sshkey_pub_get
 *             and sshkey_pub_verify read hostile bytes (a signature from
 *             the DMZ spool): every read is length checked through struct
 *             rs_rd and any failure inside OpenSSL is "does not verify".
 *             Only ssh-ed25519 is accepted.  Crypto goes through OpenSSL
 *             EVP only, so Linux and Windows share this file.
 */
#ifndef RS_SSHKEY_H
#define RS_SSHKEY_H

#include <stddef.h>

struct rs_buf;
struct rs_rd;
struct sshkey;

#define SSHKEY_TYPE		"ssh-ed25519"
#define SSHKEY_ED25519_PUB	32
#define SSHKEY_ED25519_SEED	32
#define SSHKEY_ED25519_SIG	64
/* Largest public key or signature blob we build (sizes the buffers). */
#define SSHKEY_BLOB_MAX		256
/* "SHA256:" and 43 characters of unpadded base64 (ssh-keygen -l). */
#define SSHKEY_FP_LEN		(7 + 43)

int	sshkey_generate(struct sshkey **out);
/*
 * Load an unencrypted "-----BEGIN OPENSSH PRIVATE KEY-----" file, as
 * written by `ssh-keygen -t ed25519 -N ''`.  A passphrase-protected key is
 * RS_ERR_KEY_ENCRYPTED; another key type RS_ERR_ALG; anything malformed
 * (including a check-int mismatch or a public key that does not match the
 * private one) RS_ERR_KEY.
 */
int	sshkey_load(const char *text, size_t len, struct sshkey **out);
/* Write the key as an openssh-key-v1 file (unencrypted) to out. */
int	sshkey_save(const struct sshkey *k, const char *comment,
	    struct rs_buf *out);
/* "ssh-ed25519 AAAA... comment" (no newline). */
int	sshkey_publine(const struct sshkey *k, const char *comment,
	    struct rs_buf *out);
/* "SHA256:base64" fingerprint as ssh-keygen -l prints it. */
int	sshkey_fingerprint(const struct sshkey *k, struct rs_buf *out);
/* The raw public key (SSHKEY_ED25519_PUB bytes). */
const unsigned char *sshkey_pub(const struct sshkey *k);
/* Ed25519 signature (SSHKEY_ED25519_SIG bytes) over msg[0..mlen). */
int	sshkey_sign(const struct sshkey *k, const unsigned char *msg,
	    size_t mlen, unsigned char sig[SSHKEY_ED25519_SIG]);
void	sshkey_free(struct sshkey *k);

/* Append the blob: string "ssh-ed25519" || string pub. */
int	sshkey_pub_put(struct rs_buf *b,
	    const unsigned char pub[SSHKEY_ED25519_PUB]);
/*
 * Read a blob that must be exactly an Ed25519 public key: another key
 * type is RS_ERR_ALG, a wrong length RS_ERR_FORMAT, extra bytes
 * RS_ERR_TRAILING.
 */
int	sshkey_pub_get(struct rs_rd *r, unsigned char pub[SSHKEY_ED25519_PUB]);
/*
 * Append the SHA-256 fingerprint of a public key blob of any type (as a
 * server sends it), SSHKEY_FP_LEN characters, to out.
 */
int	sshkey_blob_fingerprint(const unsigned char *blob, size_t len,
	    struct rs_buf *out);
int	sshkey_pub_fingerprint(const unsigned char pub[SSHKEY_ED25519_PUB],
	    struct rs_buf *out);
/* RS_OK when sig is pub's signature over msg, else RS_ERR_SIG. */
int	sshkey_pub_verify(const unsigned char pub[SSHKEY_ED25519_PUB],
	    const unsigned char *msg, size_t mlen,
	    const unsigned char sig[SSHKEY_ED25519_SIG]);

#endif /* RS_SSHKEY_H */
