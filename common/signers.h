/*
 * signers.h - allowed_signers files (ssh-keygen(1) ALLOWED SIGNERS): which
 * Ed25519 key may sign for which principal, in which namespaces, when.
 *
 * Lines: principals [options] keytype base64 [comment].  Principals are
 * comma-separated patterns with * and ?.  Options honoured: namespaces="a,b",
 * valid-after=, valid-before=.  cert-authority and unknown options are a
 * parse error (RS_ERR_FORMAT with *errline), never silently ignored.
 * Lines with other key types are skipped: they cannot sign rcptsync lists.
 *
 * Memory: signers_parse allocates an object the caller frees with
 * signers_free (NULL is fine).  Trust boundary: the administrator's file,
 * parsed as if hostile.
 */
#ifndef RS_SIGNERS_H
#define RS_SIGNERS_H

#include <stddef.h>
#include <time.h>

#include "sshkey.h"

struct signers;

int	signers_parse(const char *text, size_t len, struct signers **out,
	    size_t *errline);
/*
 * Is pubkey trusted for principal in namespace ns at time now?  RS_OK,
 * RS_ERR_SIGNER (no line matches key and principal), RS_ERR_NAMESPACE or
 * RS_ERR_EXPIRED (a line matched but its options exclude this use).
 */
int	signers_check(const struct signers *s,
	    const unsigned char pubkey[SSHKEY_ED25519_PUB],
	    const char *principal, const char *ns, time_t now);
void	signers_free(struct signers *s);

#endif /* RS_SIGNERS_H */
