/*
 * rs_err.h - error codes shared by all of common/ and the programs.
 *
 * Functions return RS_OK (0) or one of the negative codes below; none of
 * common/ prints or exits.  rs_err_str() gives a short English reason for
 * log lines of the form "<operation> <object>: <reason>".  RS_ERR_SYSTEM
 * means "look at errno" (or GetLastError() in *_win.c code).
 */
#ifndef RS_ERR_H
#define RS_ERR_H

#define RS_OK			0
#define RS_ERR_INTERNAL		-1	/* a bug: callers may abort */
#define RS_ERR_NOMEM		-2
#define RS_ERR_INVAL		-3	/* bad argument from the caller */
#define RS_ERR_LIMIT		-4	/* input larger than allowed */
#define RS_ERR_TRUNC		-5	/* input ends too early */
#define RS_ERR_TRAILING		-6	/* data after the end */
#define RS_ERR_FORMAT		-7	/* malformed structure */
#define RS_ERR_VERSION		-8	/* unsupported format version */
#define RS_ERR_SYNTAX		-9	/* an address or value is invalid */
#define RS_ERR_ORDER		-10	/* entries not strictly increasing */
#define RS_ERR_COUNT		-11	/* header count differs from entries */
#define RS_ERR_DIGEST		-12	/* list-sha256 differs */
#define RS_ERR_DOMAIN		-13	/* entry outside the declared domains */
#define RS_ERR_GZIP		-14	/* corrupt compressed data */
#define RS_ERR_SIG		-15	/* signature does not verify */
#define RS_ERR_SIGNER		-16	/* key not trusted for this principal */
#define RS_ERR_NAMESPACE	-17	/* signature namespace differs */
#define RS_ERR_ALG		-18	/* algorithm not allowed */
#define RS_ERR_KEY		-19	/* malformed key */
#define RS_ERR_KEY_ENCRYPTED	-20	/* key has a passphrase */
#define RS_ERR_CRYPTO		-21	/* the crypto library failed */
#define RS_ERR_NOTFOUND		-22
#define RS_ERR_SYSTEM		-23	/* see errno */
#define RS_ERR_NOT_SMTP		-24	/* a proxyAddresses value of another type */
#define RS_ERR_EMPTY		-25	/* empty list */
#define RS_ERR_EXPIRED		-26	/* signer key outside valid-after/before */
#define RS_ERR_COUNT_MAX_	-27	/* sentinel, keep last */

const char *rs_err_str(int err);

#endif /* RS_ERR_H */
