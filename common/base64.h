/*
 * base64.h - strict base64 (RFC 4648, standard alphabet) and the PEM-like
 * armor OpenSSH wraps around signatures and private keys.
 *
 * API:        b64_encode, b64_decode, b64_armor_encode, b64_armor_decode.
 * Ownership:  output is appended to the caller's struct rs_buf; on failure
 *             the buffer may hold a partial append (callers that must not
 *             keep it cut it back with rs_buf_truncate).
 * Errors:     RS_ERR_FORMAT for anything not in the one canonical form,
 *             RS_ERR_TRUNC / RS_ERR_TRAILING for armor that stops early or
 *             goes on after its END line, RS_ERR_LIMIT / RS_ERR_NOMEM from
 *             the buffer.
 * Trust:      the decoders read hostile bytes (signatures from the DMZ
 *             spool, allowed_signers lines): every input has exactly one
 *             accepted encoding, so nothing can hide in padding bits or in
 *             whitespace.
 */
#ifndef RS_BASE64_H
#define RS_BASE64_H

#include <stddef.h>

struct rs_buf;

/*
 * Append base64 of p[0..n) to out: a newline before every wrap-th output
 * character if wrap > 0 (none at the end); '=' padding if pad.
 */
int	b64_encode(struct rs_buf *out, const unsigned char *p, size_t n,
	    size_t wrap, int pad);
/*
 * Decode s[0..n): only the alphabet, a length that is a multiple of four,
 * at most two '=' and only at the very end, and zero bits where the
 * padding cuts a group.  An empty input is RS_ERR_FORMAT.
 */
int	b64_decode(const unsigned char *s, size_t n, struct rs_buf *out);

/* Append "BEGIN\n", base64 wrapped at 70 columns, "\nEND\n" to out. */
int	b64_armor_encode(const unsigned char *p, size_t n, const char *begin,
	    const char *end, struct rs_buf *out);
/*
 * Undo b64_armor_encode into the decoded bytes in out, the base64 text
 * being at most max bytes.  Strict: LF only, no empty or space-containing
 * lines, nothing after END but one newline.  lenient (for key files an
 * administrator may have carried through a Windows editor) also takes
 * CRLF and trailing blank space.  Text that stops before END (a cut
 * upload) is RS_ERR_TRUNC.
 */
int	b64_armor_decode(const char *text, size_t len, const char *begin,
	    const char *end, int lenient, size_t max, struct rs_buf *out);

#endif /* RS_BASE64_H */
