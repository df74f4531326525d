/*
 * signers.h - allowed_signers files (ssh-keygen(1) ALLOWED SIGNERS): which
 * Ed25519 key may sign for which principal, in which namespaces, when.
 *
 * Lines: principals [options] keytype base64 [comment], read as
 * ssh-keygen -Y verify reads them.  Principals are comma-separated
 * patterns with * and ?, optionally in double quotes (which the key may
 * follow directly).  Options: namespaces="a,b", valid-after="TIME",
 * valid-before="TIME" (YYYYMMDD[HHMM[SS]], Z or UTC for UTC, else local
 * time), names in any case, \" for a quote inside a value.
 *
 * A line rcptsync cannot use (cert-authority, a key type other than
 * ssh-ed25519, an unknown option, a bad time, a broken key) is left out
 * and recorded with its line number and the reason; every other line
 * keeps working, so one bad line never stops every install.
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

/* Room for one reason text, NUL included. */
#define SIGNERS_WHY_LEN		192

/*
 * Parse a whole file.  RS_OK (also when lines were left out: see
 * signers_bad), RS_ERR_LIMIT over RS_MAX_SIGNERS_BYTES, RS_ERR_NOMEM,
 * RS_ERR_INVAL.
 */
int	signers_parse(const char *text, size_t len, struct signers **out);
/* How many lines were left out (not all are kept: RS_MAX_SIGNERS_BAD). */
size_t	signers_nbad(const struct signers *s);
/*
 * The i-th line left out: its number in *line and the reason, e.g.
 * "cert-authority is not supported: list the agent's own key"; NULL once
 * i is past the kept ones.
 */
const char *signers_bad(const struct signers *s, size_t i, size_t *line);
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
