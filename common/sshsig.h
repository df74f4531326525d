/*
 * sshsig.h - OpenSSH SSHSIG signatures (PROTOCOL.sshsig) with Ed25519 keys,
 * OpenSSH private key files (openssh-key-v1) and allowed_signers files.
 *
 * Crypto goes through OpenSSL EVP only, so Linux and Windows share this
 * file.  Only ssh-ed25519 keys are accepted anywhere.
 *
 * Trust boundary: sshsig_parse and sshsig_signers_parse read hostile input
 * (files from the DMZ spool and the admin's file); every read is length
 * checked through struct rs_rd.  The receiver's order is: parse the
 * signature, check the namespace and hash algorithm, hash the message,
 * verify, then look the key up in allowed_signers for the principal.
 *
 * Memory: every *_new/_parse/_load allocates an object the caller frees
 * with the matching _free (NULL is fine).  Private key bytes are wiped.
 */
#ifndef RS_SSHSIG_H
#define RS_SSHSIG_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct rs_buf;
struct sshsig_key;
struct sshsig;
struct sshsig_signers;

#define SSHSIG_NAMESPACE	"rcptsync"
#define SSHSIG_ED25519_PUB	32
#define SSHSIG_ED25519_SEED	32

/* Keys. */
int	sshsig_key_generate(struct sshsig_key **out);
/*
 * Load an unencrypted "-----BEGIN OPENSSH PRIVATE KEY-----" file, as
 * written by `ssh-keygen -t ed25519 -N ''`.  A passphrase-protected key is
 * RS_ERR_KEY_ENCRYPTED; another key type RS_ERR_ALG; anything malformed
 * (including a check-int mismatch or a public key that does not match the
 * private one) RS_ERR_KEY.
 */
int	sshsig_key_load(const char *text, size_t len, struct sshsig_key **out);
/* Write the key as an openssh-key-v1 file (unencrypted) to out. */
int	sshsig_key_save(const struct sshsig_key *k, const char *comment,
	    struct rs_buf *out);
/* "ssh-ed25519 AAAA... comment" (no newline). */
int	sshsig_key_publine(const struct sshsig_key *k, const char *comment,
	    struct rs_buf *out);
/* "SHA256:base64" fingerprint as ssh-keygen -l prints it. */
int	sshsig_key_fingerprint(const struct sshsig_key *k, struct rs_buf *out);
void	sshsig_key_free(struct sshsig_key *k);

/*
 * Sign: digest is the hash_alg ("sha512") hash of the message, computed by
 * the caller with rs_hash.  Appends the armored signature
 * ("-----BEGIN SSH SIGNATURE-----" ... ) with a final newline to out.
 */
int	sshsig_sign(const struct sshsig_key *k, const char *ns,
	    const char *hash_alg, const unsigned char *digest, size_t dlen,
	    struct rs_buf *out);

/*
 * Parse an armored signature.  Checks structure, version 1, key type
 * ssh-ed25519 and signature type; does not verify.
 */
int	sshsig_parse(const char *text, size_t len, struct sshsig **out);
/* The hash algorithm the signer used: "sha512" or "sha256". */
const char *sshsig_hash_alg(const struct sshsig *s);
/* The namespace; compare it before doing any work. */
const char *sshsig_namespace(const struct sshsig *s);
/*
 * Verify s over the message digest, requiring namespace ns.  Returns RS_OK,
 * RS_ERR_NAMESPACE, or RS_ERR_SIG.
 */
int	sshsig_verify(const struct sshsig *s, const char *ns,
	    const unsigned char *digest, size_t dlen);
/* The signer's raw Ed25519 public key (32 bytes). */
const unsigned char *sshsig_pubkey(const struct sshsig *s);
/* "SHA256:..." fingerprint of the signer's key, for log lines. */
int	sshsig_fingerprint(const struct sshsig *s, struct rs_buf *out);
void	sshsig_free(struct sshsig *s);

/*
 * allowed_signers (ssh-keygen(1) ALLOWED SIGNERS).  Lines: principals
 * [options] ssh-ed25519 base64 [comment].  Principals are comma-separated
 * patterns with * and ?.  Options honoured: namespaces="a,b",
 * valid-after=, valid-before=.  cert-authority and unknown options are a
 * parse error (RS_ERR_FORMAT with *errline), never silently ignored.
 * Lines with other key types are skipped: they cannot sign rcptsync lists.
 */
int	sshsig_signers_parse(const char *text, size_t len,
	    struct sshsig_signers **out, size_t *errline);
/*
 * Is pubkey trusted for principal in namespace ns at time now?  RS_OK,
 * RS_ERR_SIGNER (no line matches key and principal), RS_ERR_NAMESPACE or
 * RS_ERR_EXPIRED (a line matched but its options exclude this use).
 */
int	sshsig_signers_check(const struct sshsig_signers *s,
	    const unsigned char pubkey[SSHSIG_ED25519_PUB],
	    const char *principal, const char *ns, time_t now);
void	sshsig_signers_free(struct sshsig_signers *s);

#endif /* RS_SSHSIG_H */
