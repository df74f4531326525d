/*
 * rs_err.c - text for the error codes of rs_err.h.
 *
 * The strings are reasons, not sentences: the caller supplies the operation
 * and the object ("verify corp.17.rcpt.gz: signature does not verify").
 */
#include "rs_err.h"

const char *
rs_err_str(int err)
{
	switch (err) {
	case RS_OK:			return "success";
	case RS_ERR_INTERNAL:		return "internal error";
	case RS_ERR_NOMEM:		return "out of memory";
	case RS_ERR_INVAL:		return "invalid argument";
	case RS_ERR_LIMIT:		return "size limit exceeded";
	case RS_ERR_TRUNC:		return "truncated data";
	case RS_ERR_TRAILING:		return "unexpected trailing data";
	case RS_ERR_FORMAT:		return "invalid format";
	case RS_ERR_VERSION:		return "unsupported format version";
	case RS_ERR_SYNTAX:		return "invalid syntax";
	case RS_ERR_ORDER:		return "entries not sorted or not unique";
	case RS_ERR_COUNT:		return "entry count does not match header";
	case RS_ERR_DIGEST:		return "list digest does not match header";
	case RS_ERR_DOMAIN:		return "entry outside the declared domains";
	case RS_ERR_GZIP:		return "corrupt compressed data";
	case RS_ERR_SIG:		return "signature does not verify";
	case RS_ERR_SIGNER:		return "signer not trusted";
	case RS_ERR_NAMESPACE:		return "wrong signature namespace";
	case RS_ERR_ALG:		return "algorithm not allowed";
	case RS_ERR_KEY:		return "invalid key";
	case RS_ERR_KEY_ENCRYPTED:	return "key is passphrase-protected";
	case RS_ERR_CRYPTO:		return "cryptographic library failure";
	case RS_ERR_NOTFOUND:		return "not found";
	case RS_ERR_SYSTEM:		return "system error";
	case RS_ERR_NOT_SMTP:		return "not an SMTP address";
	case RS_ERR_EMPTY:		return "empty list";
	case RS_ERR_EXPIRED:		return "signer key not valid at this time";
	}
	return "unknown error";
}
