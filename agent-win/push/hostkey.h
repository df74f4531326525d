/*
 * hostkey.h - the relay host keys pinned in a known_hosts file, and SSH
 * key fingerprints.
 *
 * API:        hostkey_pins_parse, hostkey_pins_methods, hostkey_pins_check,
 *             hostkey_pins_expected, hostkey_pins_free, hostkey_fp.
 * Ownership:  hostkey_pins_parse hands a new set to the caller
 *             (hostkey_pins_free).
 * Errors:     RS_OK or RS_ERR_* (RS_ERR_NOTFOUND: no usable key for the
 *             host; RS_ERR_SIG: a key that is not pinned, or revoked).
 * Trust:      the file is the administrator's, but its text is parsed
 *             with length checks; the key a relay presents is compared
 *             byte for byte with the pinned keys, before any
 *             authentication.
 */
#ifndef RS_HOSTKEY_H
#define RS_HOSTKEY_H

#include <stddef.h>

struct hostkey_pins;

/*
 * The keys of known_hosts text[0..len) for host at port, as OpenSSH
 * looks them up: "host" for port 22, "[host]:port" otherwise, plain or
 * hashed (|1|salt|hash), with * and ? wildcards and !negation; @revoked
 * lines are kept as revoked, @cert-authority lines are skipped (no
 * certificates here), and so are lines of other key types.
 * RS_ERR_NOTFOUND when no line pins a key for the host.
 */
int	hostkey_pins_parse(const char *text, size_t len, const char *host,
	    unsigned port, struct hostkey_pins **out);
void	hostkey_pins_free(struct hostkey_pins *p);
/*
 * The host key algorithms to offer: the types of the pinned keys only,
 * comma-separated, Ed25519 first.
 */
int	hostkey_pins_methods(const struct hostkey_pins *p, char *out,
	    size_t outsize);
/* Is blob[0..len) a pinned key (RS_OK)?  *revoked: it is marked so. */
int	hostkey_pins_check(const struct hostkey_pins *p,
	    const unsigned char *blob, size_t len, int *revoked);
/* "SHA256:..." of the first pinned key (not revoked), for messages. */
void	hostkey_pins_expected(const struct hostkey_pins *p, char *out,
	    size_t outsize);

/* "SHA256:..." of a key blob, as ssh-keygen -lf prints it. */
int	hostkey_fp(const unsigned char *blob, size_t len, char *out,
	    size_t outsize);

#endif /* RS_HOSTKEY_H */
