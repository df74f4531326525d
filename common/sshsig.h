/*
 * sshsig.h - OpenSSH SSHSIG signatures (PROTOCOL.sshsig) with Ed25519
 * keys: signing with a struct sshkey (sshkey.h), parsing and verifying a
 * signature from the spool.  Who may sign is signers.h's business.
 *
 * Trust boundary: sshsig_parse reads hostile input (the .sig file from
 * the DMZ spool); every read is length checked through struct rs_rd.  The
 * receiver's order is: parse the signature, check the namespace and hash
 * algorithm, hash the message, verify, then look the key up in
 * allowed_signers (signers_check) for the principal.
 *
 * Memory: sshsig_parse allocates an object the caller frees with
 * sshsig_free (NULL is fine).  Errors are negative RS_ERR_* codes.
 */
#ifndef RS_SSHSIG_H
#define RS_SSHSIG_H

#include <stddef.h>

struct rs_buf;
struct sshkey;
struct sshsig;

#define SSHSIG_NAMESPACE	"rcptsync"

/*
 * Sign: digest is the hash_alg ("sha512") hash of the message, computed by
 * the caller with rs_hash.  Appends the armored signature
 * ("-----BEGIN SSH SIGNATURE-----" ... ) with a final newline to out.
 */
int	sshsig_sign(const struct sshkey *k, const char *ns,
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
/* The signer's raw Ed25519 public key (SSHKEY_ED25519_PUB bytes). */
const unsigned char *sshsig_pubkey(const struct sshsig *s);
/* "SHA256:..." fingerprint of the signer's key, for log lines. */
int	sshsig_fingerprint(const struct sshsig *s, struct rs_buf *out);
void	sshsig_free(struct sshsig *s);

#endif /* RS_SSHSIG_H */
