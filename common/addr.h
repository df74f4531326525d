/*
 * addr.h - the canonical recipient address form (docs/FORMAT.md section 3)
 * and its derivation from Active Directory proxyAddresses values.
 *
 * Both sides use the same checker: the agent before it puts an address in a
 * list, the receiver on every line of a bundle.  Inputs are untrusted and
 * need not be NUL-terminated; nothing here allocates.
 */
#ifndef RS_ADDR_H
#define RS_ADDR_H

#include <stddef.h>

/*
 * Check that a[0..len) is a canonical address.  Returns RS_OK, or
 * RS_ERR_SYNTAX with *why (if why is not NULL) set to a static reason such
 * as "local part longer than 64 octets".
 */
int	addr_check(const char *a, size_t len, const char **why);

/*
 * Derive a canonical address from a proxyAddresses value v[0..len).
 * Values of another type (X400:, SIP:, ...) return RS_ERR_NOT_SMTP.  An smtp:
 * value that fails addr_check returns RS_ERR_SYNTAX with *why.  On success
 * the address, lowercased, is written to out (NUL-terminated), *outlen set.
 * outsize must be at least RS_MAX_ADDR_LEN + 1.
 */
int	addr_from_proxy(const char *v, size_t len, char *out, size_t outsize,
	    size_t *outlen, const char **why);

/* Pointer to the domain part of a canonical address (after the '@'). */
const char *addr_domain(const char *a, size_t len, size_t *dlen);

/* Check a domain name alone (lowercase, LDH labels, as in addresses). */
int	addr_check_domain(const char *d, size_t len, const char **why);

#endif /* RS_ADDR_H */
