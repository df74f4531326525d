/*
 * verify.c - the receiver's trust boundary: signature first, then the
 * streaming validation of the bundle's content.
 *
 * API:        rcv_vfy_signature, rcv_vfy_content, rcv_bundle_clear.
 * Ownership:  struct rcv_bundle owns its header (b->hdr, freed by
 *             rcv_bundle_clear) and its private copy in STATE/work (the
 *             caller moves it to history or quarantine, or removes it).
 * Errors:     RS_ERR_SYSTEM means a local failure (disk full, permissions):
 *             the bundle is not at fault and stays in the spool.  Every
 *             other negative code is a refusal, with a one-line reason for
 *             the log, the quarantine and the status file, and its class
 *             in b->why (RCV_WHY_*, the metrics' reason label).
 * Trust:      the spool is writable by the upload account, which could
 *             rewrite a file after it was verified.  So the bundle is first
 *             copied into STATE/work (hashing the bytes as they are copied)
 *             and only that private copy is verified, decompressed and
 *             parsed.  Spool files are opened O_NOFOLLOW|O_NONBLOCK and
 *             must be regular files within the size limits; nothing is
 *             decompressed before the signature verified and the signer's
 *             key is trusted for the agent named in the file name.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rs_attr.h"
#include "addr.h"
#include "buf.h"
#include "bundle.h"
#include "gz.h"
#include "hash.h"
#include "log.h"
#include "receiver.h"
#include "rs_err.h"
#include "signers.h"
#include "sshsig.h"
#include "strv.h"

#define RCV_VFY_COPY_BUF	(64 * 1024)

static int
rcv_vfy_why(char *reason, size_t rsize, int err, const char *fmt, ...)
    RS_PRINTF(4, 5)
    ;

static int
rcv_vfy_why(char *reason, size_t rsize, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, rsize, fmt, ap);
	va_end(ap);
	return err;
}

/* The class of a content refusal, from the reader's error code. */
static int
rcv_vfy_class(int err)
{
	switch (err) {
	case RS_ERR_LIMIT:
		return RCV_WHY_LIMIT;
	case RS_ERR_DOMAIN:
		return RCV_WHY_DOMAIN;
	case RS_ERR_EMPTY:
		return RCV_WHY_EMPTY;
	case RS_ERR_SYSTEM:
	case RS_ERR_NOMEM:
	case RS_ERR_INTERNAL:
	case RS_ERR_CRYPTO:
		return RCV_WHY_OTHER;
	default:
		return RCV_WHY_FORMAT;
	}
}

void
rcv_bundle_clear(struct rcv_bundle *b)
{
	free(b->hdr);
	b->hdr = NULL;
	rs_wipe(b->sig, sizeof(b->sig));
	b->siglen = 0;
}

/* Open a spool file for reading: regular, not a symlink, at most max. */
static int
rcv_vfy_open(const char *path, uint64_t max, int *fdp, uint64_t *size,
    char *reason, size_t rsize)
{
	struct stat st;
	int fd;

	*fdp = -1;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd == -1) {
		if (errno == ENOENT)
			return rcv_vfy_why(reason, rsize, RS_ERR_NOTFOUND,
			    "missing");
		if (errno == ELOOP)
			return rcv_vfy_why(reason, rsize, RS_ERR_FORMAT,
			    "is a symbolic link");
		rs_error("open %s: %s", path, strerror(errno));
		return rcv_vfy_why(reason, rsize, RS_ERR_SYSTEM, "open: %s",
		    strerror(errno));
	}
	if (fstat(fd, &st) == -1) {
		rs_error("stat %s: %s", path, strerror(errno));
		close(fd);
		return rcv_vfy_why(reason, rsize, RS_ERR_SYSTEM, "stat");
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return rcv_vfy_why(reason, rsize, RS_ERR_FORMAT,
		    "not a regular file");
	}
	if ((uint64_t)st.st_size > max) {
		close(fd);
		return rcv_vfy_why(reason, rsize, RS_ERR_LIMIT,
		    "%" PRIu64 " bytes, larger than the limit of %" PRIu64,
		    (uint64_t)st.st_size, max);
	}
	*fdp = fd;
	*size = (uint64_t)st.st_size;
	return RS_OK;
}

static int
rcv_vfy_read_sig(const struct rcv_cfg *c, struct rcv_bundle *b,
    char *reason, size_t rsize)
{
	char path[4096], why[200];
	uint64_t size;
	ssize_t n;
	int fd, r;

	if (snprintf(path, sizeof(path), "%s/%s.sig", c->spool_dir,
	    b->name) >= (int)sizeof(path))
		return rcv_vfy_why(reason, rsize, RS_ERR_SYSTEM, "spool path "
		    "too long");
	r = rcv_vfy_open(path, RS_MAX_SIG_BYTES, &fd, &size, why, sizeof(why));
	if (r != RS_OK)
		return rcv_vfy_why(reason, rsize, r, "signature file %s.sig: "
		    "%s", b->name, why);
	b->siglen = 0;
	for (;;) {
		n = read(fd, b->sig + b->siglen, RS_MAX_SIG_BYTES + 1 -
		    b->siglen);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		b->siglen += (size_t)n;
		if (b->siglen > RS_MAX_SIG_BYTES)
			break;
	}
	close(fd);
	if (n == -1) {
		rs_error("read %s: %s", path, strerror(errno));
		return rcv_vfy_why(reason, rsize, RS_ERR_SYSTEM, "read %s.sig",
		    b->name);
	}
	if (b->siglen > RS_MAX_SIG_BYTES)
		return rcv_vfy_why(reason, rsize, RS_ERR_LIMIT,
		    "signature file grew beyond %d bytes", RS_MAX_SIG_BYTES);
	b->sig[b->siglen] = '\0';
	if (b->siglen == 0)
		return rcv_vfy_why(reason, rsize, RS_ERR_TRUNC, "signature "
		    "file %s.sig: empty", b->name);
	return RS_OK;
}

/*
 * Copy the spool bundle into STATE/work while hashing the copied bytes,
 * so that what is verified is exactly what is later parsed.
 */
static int
rcv_vfy_copy(const struct rcv_cfg *c, struct rcv_bundle *b,
    const char *alg, unsigned char *md, size_t *mdlen, char *reason,
    size_t rsize)
{
	char src[4096], why[200];
	unsigned char *buf = NULL;
	struct rs_hash *h = NULL;
	uint64_t size, total = 0;
	int in = -1, out = -1, r;
	ssize_t n, w, off;

	if (rcv_util_path(src, sizeof(src), c->spool_dir, b->name) != RS_OK ||
	    rcv_util_path(b->work_path, sizeof(b->work_path), c->work_dir,
	    b->name) != RS_OK) {
		b->work_path[0] = '\0';
		return rcv_vfy_why(reason, rsize, RS_ERR_SYSTEM, "path too "
		    "long");
	}
	r = rcv_vfy_open(src, c->max_bundle, &in, &size, why, sizeof(why));
	if (r != RS_OK) {
		b->work_path[0] = '\0';
		return rcv_vfy_why(reason, rsize, r, "bundle: %s", why);
	}
	/* A leftover from a crashed run is ours; start afresh. */
	if (unlink(b->work_path) == -1 && errno != ENOENT) {
		rs_error("remove %s: %s", b->work_path, strerror(errno));
		r = rcv_vfy_why(reason, rsize, RS_ERR_SYSTEM, "work copy");
		goto out;
	}
	out = open(b->work_path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600);
	if (out == -1) {
		rs_error("create %s: %s", b->work_path, strerror(errno));
		r = rcv_vfy_why(reason, rsize, RS_ERR_SYSTEM, "work copy: %s",
		    strerror(errno));
		goto out;
	}
	if ((buf = malloc(RCV_VFY_COPY_BUF)) == NULL) {
		r = RS_ERR_NOMEM;
		goto out;
	}
	if ((r = rs_hash_new(alg, &h)) != RS_OK) {
		r = rcv_vfy_why(reason, rsize, r, "hash algorithm %s", alg);
		goto out;
	}
	for (;;) {
		n = read(in, buf, RCV_VFY_COPY_BUF);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			rs_error("read %s: %s", src, strerror(errno));
			r = rcv_vfy_why(reason, rsize, RS_ERR_SYSTEM, "read");
			goto out;
		}
		if (n == 0)
			break;
		total += (uint64_t)n;
		if (total > c->max_bundle) {
			r = rcv_vfy_why(reason, rsize, RS_ERR_LIMIT, "bundle "
			    "grew beyond the limit of %" PRIu64 " bytes",
			    c->max_bundle);
			goto out;
		}
		if ((r = rs_hash_update(h, buf, (size_t)n)) != RS_OK) {
			r = rcv_vfy_why(reason, rsize, RS_ERR_SYSTEM, "hash");
			goto out;
		}
		for (off = 0; off < n; off += w) {
			w = write(out, buf + off, (size_t)(n - off));
			if (w == -1 && errno == EINTR) {
				w = 0;
				continue;
			}
			if (w <= 0) {
				rs_error("write %s: %s", b->work_path,
				    w == 0 ? "short write" : strerror(errno));
				r = rcv_vfy_why(reason, rsize, RS_ERR_SYSTEM,
				    "work copy: %s", strerror(errno));
				goto out;
			}
		}
	}
	if (close(out) == -1) {
		out = -1;
		rs_error("close %s: %s", b->work_path, strerror(errno));
		r = rcv_vfy_why(reason, rsize, RS_ERR_SYSTEM, "work copy");
		goto out;
	}
	out = -1;
	if ((r = rs_hash_final(h, md, mdlen)) != RS_OK)
		r = rcv_vfy_why(reason, rsize, RS_ERR_SYSTEM, "hash");
 out:
	rs_hash_free(h);
	free(buf);
	if (in != -1)
		close(in);
	if (out != -1)
		close(out);
	return r;
}

int
rcv_vfy_signature(const struct rcv_cfg *c,
    const struct signers *trusted, struct rcv_bundle *b,
    char *reason, size_t rsize)
{
	struct sshsig *sig = NULL;
	struct rs_buf fpr;
	unsigned char md[RS_HASH_MAX];
	size_t mdlen = 0;
	const char *ns, *alg;
	int r;

	b->work_path[0] = '\0';
	b->fpr[0] = '\0';
	/* Everything about the .sig file and its check is "signature". */
	b->why = RCV_WHY_SIGNATURE;
	rs_buf_init(&fpr, sizeof(b->fpr) - 1);
	if ((r = rcv_vfy_read_sig(c, b, reason, rsize)) != RS_OK)
		goto out;
	if ((r = sshsig_parse(b->sig, b->siglen, &sig)) != RS_OK) {
		r = rcv_vfy_why(reason, rsize, r, "malformed signature: %s",
		    rs_err_str(r));
		goto out;
	}
	/* Cheap checks before any work on the (large) bundle. */
	ns = sshsig_namespace(sig);
	if (ns == NULL || strcmp(ns, SSHSIG_NAMESPACE) != 0) {
		r = rcv_vfy_why(reason, rsize, RS_ERR_NAMESPACE, "signature "
		    "namespace is not \"%s\"", SSHSIG_NAMESPACE);
		goto out;
	}
	alg = sshsig_hash_alg(sig);
	if (alg == NULL || (strcmp(alg, "sha512") != 0 &&
	    strcmp(alg, "sha256") != 0)) {
		r = rcv_vfy_why(reason, rsize, RS_ERR_ALG, "signature hash "
		    "algorithm not allowed");
		goto out;
	}
	if (sshsig_fingerprint(sig, &fpr) == RS_OK)
		snprintf(b->fpr, sizeof(b->fpr), "%.*s", (int)fpr.len,
		    (const char *)fpr.data);
	if ((r = rcv_vfy_copy(c, b, alg, md, &mdlen, reason, rsize)) !=
	    RS_OK) {
		/* The bundle file itself: a symlink, not regular, too big. */
		b->why = r == RS_ERR_LIMIT ? RCV_WHY_LIMIT : r ==
		    RS_ERR_FORMAT ? RCV_WHY_FORMAT : RCV_WHY_OTHER;
		goto out;
	}
	if ((r = sshsig_verify(sig, SSHSIG_NAMESPACE, md, mdlen)) != RS_OK) {
		r = r == RS_ERR_SIG ? rcv_vfy_why(reason, rsize, r,
		    "signature does not verify") : rcv_vfy_why(reason, rsize,
		    r, "verify signature: %s", rs_err_str(r));
		goto out;
	}
	/* The principal is the agent id from the file name. */
	r = signers_check(trusted, sshsig_pubkey(sig), b->agent,
	    SSHSIG_NAMESPACE, time(NULL));
	if (r != RS_OK) {
		b->why = RCV_WHY_SIGNER;
		r = rcv_vfy_why(reason, rsize, r, "signer key %s is not "
		    "trusted for agent %s: %s %s", b->fpr[0] ? b->fpr : "?",
		    b->agent, r == RS_ERR_NAMESPACE ? "namespace \""
		    SSHSIG_NAMESPACE "\" is not allowed by its line in" :
		    r == RS_ERR_EXPIRED ? "outside valid-after/valid-before "
		    "of its line in" : "no line lists it for this agent in",
		    c->allowed_signers);
		goto out;
	}
	b->verified = 1;
	r = RS_OK;
 out:
	rs_buf_free(&fpr);
	sshsig_free(sig);
	return r;
}

/*
 * The reader's detail already names the line ("line 12: ...") and the
 * rule, or the container's fault without a line ("decompress: not
 * gzip ..."); a decompressed size over the limit is the receiver's
 * setting, so it is named here.
 */
static int
rcv_vfy_entry_err(const struct rcv_cfg *c, struct gz_dec *dec,
    struct bundle_reader *br, int err, char *reason, size_t rsize)
{
	const char *d = bundle_detail(br);

	if (gz_dec_error(dec) == RS_ERR_LIMIT)
		return rcv_vfy_why(reason, rsize, err, "decompress: the list "
		    "is larger than the limit max_list_size = %" PRIu64
		    " bytes",
		    c->max_list);
	if (d == NULL || *d == '\0')
		return rcv_vfy_why(reason, rsize, err, "line %zu: %s",
		    bundle_lineno(br), rs_err_str(err));
	return rcv_vfy_why(reason, rsize, err, "%s", d);
}

/* The content checks' shared reading state. */
struct rcv_vfy_rd {
	const struct rcv_cfg	*c;
	struct rcv_bundle	*b;
	struct gz_dec		*dec;
	struct bundle_reader	*br;
	char			*reason;
	size_t			 rsize;
};

/* The header, and that it names the agent and sequence of the file name. */
static int
rcv_vfy_header(struct rcv_vfy_rd *rd)
{
	struct rcv_bundle *b = rd->b;
	int r;

	if ((r = bundle_read_header(rd->br, b->hdr)) != RS_OK)
		return rcv_vfy_entry_err(rd->c, rd->dec, rd->br, r, rd->reason,
		    rd->rsize);
	if (strcmp(b->hdr->agent, b->agent) != 0)
		return rcv_vfy_why(rd->reason, rd->rsize, RS_ERR_FORMAT,
		    "header agent '%s' differs from the file name's '%s'",
		    b->hdr->agent, b->agent);
	if (b->hdr->seq != b->seq)
		return rcv_vfy_why(rd->reason, rd->rsize, RS_ERR_FORMAT,
		    "header sequence %" PRIu64 " differs from the file "
		    "name's %" PRIu64, b->hdr->seq, b->seq);
	return RS_OK;
}

/*
 * eff[i]: is the header's domain i (authoritative or relay) effective,
 * i.e. allowed by relay_domains and the agent's [signer] domains?
 */
static void
rcv_vfy_effective(const struct rcv_cfg *c, const struct rcv_bundle *b,
    unsigned char *eff)
{
	const struct rcv_signer *sg = rcv_cfg_signer(c, b->agent);
	const struct bundle_hdr *h = b->hdr;
	size_t i;

	for (i = 0; i < h->ndomains + h->nrelay; i++)
		eff[i] = (unsigned char)rcv_cfg_allows(c, sg, h->domains[i],
		    strlen(h->domains[i]));
}

/*
 * The map keys of the effective relay domains, "@name" ("*.name" too:
 * Postfix looks up "@domain" for the domain itself only), sorted and
 * unique into keys[], their number in *nkeys.
 */
static int
rcv_vfy_relay_keys(const struct bundle_hdr *h, const unsigned char *eff,
    char ***keys, size_t *nkeys)
{
	const char *t;
	size_t i, n = 0;
	char **k;

	*keys = NULL;
	*nkeys = 0;
	if ((k = calloc(h->nrelay + 1, sizeof(*k))) == NULL)
		return RS_ERR_NOMEM;
	for (i = h->ndomains; i < h->ndomains + h->nrelay; i++) {
		if (!eff[i])
			continue;
		t = h->domains[i];
		if (t[0] == '*')
			t += 2;
		if ((k[n] = malloc(strlen(t) + 2)) == NULL) {
			rcv_util_words_free(k, n);
			return RS_ERR_NOMEM;
		}
		k[n][0] = '@';
		memcpy(k[n] + 1, t, strlen(t) + 1);
		n++;
	}
	n = strv_sort_unique(k, n);
	*keys = k;
	*nkeys = n;
	return RS_OK;
}

/* One line of the agent's list file. */
static int
rcv_vfy_put(struct rcv_vfy_rd *rd, FILE *out, const char *list_out,
    const char *line, size_t len, struct rcv_listres *res)
{
	if (fwrite(line, 1, len, out) != len || putc('\n', out) == EOF) {
		rs_error("write %s: %s", list_out, strerror(errno));
		return rcv_vfy_why(rd->reason, rd->rsize, RS_ERR_SYSTEM,
		    "list file: %s", strerror(errno));
	}
	res->accepted++;
	return RS_OK;
}

/*
 * Every entry, each governed by a header domain: those of effective
 * domains to out, the others counted in dropped[] and res; the relay
 * domains' keys merged in, so that the file stays sorted.
 */
static int
rcv_vfy_entries(struct rcv_vfy_rd *rd, const unsigned char *eff,
    uint64_t *dropped, FILE *out, const char *list_out,
    struct rcv_listres *res)
{
	const char *addr, *dom;
	char **keys = NULL;
	size_t len, dlen, nkeys, ki = 0;
	long di;
	int r, more;

	if ((r = rcv_vfy_relay_keys(rd->b->hdr, eff, &keys, &nkeys)) != RS_OK)
		return r;
	for (;;) {
		if ((more = bundle_next(rd->br, &addr, &len)) < 0) {
			r = rcv_vfy_entry_err(rd->c, rd->dec, rd->br, more,
			    rd->reason, rd->rsize);
			break;
		}
		/* The keys that sort before this entry (all, at the end). */
		for (; ki < nkeys && (more == 0 || strcmp(keys[ki], addr) <
		    0); ki++)
			if ((r = rcv_vfy_put(rd, out, list_out, keys[ki],
			    strlen(keys[ki]), res)) != RS_OK)
				goto out;
		if (more == 0) {
			r = RS_OK;
			break;
		}
		dom = addr_domain(addr, len, &dlen);
		di = dom == NULL ? -1 : bundle_domain_find(rd->b->hdr, dom,
		    dlen);
		if (di < 0) {
			r = rcv_vfy_why(rd->reason, rd->rsize, RS_ERR_DOMAIN,
			    "line %zu: domain not declared in the header",
			    bundle_lineno(rd->br));
			break;
		}
		if (!eff[di]) {
			dropped[di]++;
			res->dropped++;
			continue;
		}
		if ((r = rcv_vfy_put(rd, out, list_out, addr, len, res)) !=
		    RS_OK)
			break;
	}
out:
	rcv_util_words_free(keys, nkeys);
	return r;
}

/*
 * The header's domains that were not effective, for the state and the
 * status: "partner.example *.lab.test" (cut with "..." when long).
 */
static void
rcv_vfy_unrelayed(const struct bundle_hdr *h, const unsigned char *eff,
    struct rcv_listres *res)
{
	size_t i, used = 0, room = sizeof(res->unrelayed) - 4;
	int n;

	for (i = 0; i < h->ndomains + h->nrelay; i++) {
		if (eff[i])
			continue;
		res->nunrelayed++;
		if (used >= room)
			continue;
		n = snprintf(res->unrelayed + used, room - used, "%s%s",
		    used ? " " : "", h->domains[i]);
		if (n < 0 || (size_t)n >= room - used) {
			memcpy(res->unrelayed + used, "...", 4);
			used = room;
		} else
			used += (size_t)n;
	}
}

/* "gmail.com:12 partner.example:3" for the log line. */
static void
rcv_vfy_dropped_text(const struct bundle_hdr *h, const uint64_t *dropped,
    struct rcv_listres *res)
{
	size_t i, used = 0;
	int n;

	for (i = 0; i < h->ndomains; i++) {
		if (dropped[i] == 0)
			continue;
		n = snprintf(res->dropped_domains + used,
		    sizeof(res->dropped_domains) - used, "%s%s:%" PRIu64,
		    used ? " " : "", h->domains[i], dropped[i]);
		if (n < 0 || (size_t)n >= sizeof(res->dropped_domains) - used)
			break;
		used += (size_t)n;
	}
}

int
rcv_vfy_content(const struct rcv_cfg *c, struct rcv_bundle *b,
    const char *list_out, struct rcv_listres *res, char *reason,
    size_t rsize)
{
	struct rcv_vfy_rd rd = { c, b, NULL, NULL, reason, rsize };
	uint64_t *dropped = NULL;
	unsigned char *eff = NULL;
	FILE *in = NULL, *out = NULL;
	int r, fd;

	if (res != NULL)
		memset(res, 0, sizeof(*res));
	b->why = RCV_WHY_FORMAT;
	if (b->hdr == NULL && (b->hdr = calloc(1, sizeof(*b->hdr))) == NULL)
		return RS_ERR_NOMEM;
	if ((in = fopen(b->work_path, "rbe")) == NULL) {
		rs_error("open %s: %s", b->work_path, strerror(errno));
		return rcv_vfy_why(reason, rsize, RS_ERR_SYSTEM, "work copy");
	}
	if ((r = gz_dec_new(in, c->max_list, &rd.dec)) != RS_OK ||
	    (r = bundle_reader_new(rd.dec, c->max_entries, &rd.br)) !=
	    RS_OK) {
		r = rcv_vfy_why(reason, rsize, r == RS_ERR_NOMEM ?
		    RS_ERR_SYSTEM : r, "decoder: %s", rs_err_str(r));
		goto out;
	}
	if ((r = rcv_vfy_header(&rd)) != RS_OK || list_out == NULL)
		goto out;

	if ((eff = calloc(b->hdr->ndomains + b->hdr->nrelay + 1, 1)) == NULL ||
	    (dropped = calloc(b->hdr->ndomains + b->hdr->nrelay + 1,
	    sizeof(*dropped))) == NULL) {
		r = RS_ERR_NOMEM;
		goto out;
	}
	rcv_vfy_effective(c, b, eff);
	fd = open(list_out, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
	    O_CLOEXEC, 0600);
	if (fd == -1 || (out = fdopen(fd, "w")) == NULL) {
		rs_error("create %s: %s", list_out, strerror(errno));
		if (fd != -1)
			close(fd);
		r = rcv_vfy_why(reason, rsize, RS_ERR_SYSTEM, "list file");
		goto out;
	}
	if ((r = rcv_vfy_entries(&rd, eff, dropped, out, list_out, res)) !=
	    RS_OK)
		goto out;
	if (fflush(out) == EOF || fsync(fileno(out)) == -1) {
		rs_error("write %s: %s", list_out, strerror(errno));
		r = rcv_vfy_why(reason, rsize, RS_ERR_SYSTEM, "list file: %s",
		    strerror(errno));
		goto out;
	}
	r = fclose(out);
	out = NULL;
	if (r == EOF) {
		rs_error("close %s: %s", list_out, strerror(errno));
		r = rcv_vfy_why(reason, rsize, RS_ERR_SYSTEM, "list file");
		goto out;
	}
	rcv_vfy_dropped_text(b->hdr, dropped, res);
	rcv_vfy_unrelayed(b->hdr, eff, res);
	r = RS_OK;
 out:
	if (out != NULL)
		fclose(out);
	if (r != RS_OK) {
		b->why = rcv_vfy_class(r);
		if (list_out != NULL)
			unlink(list_out);
	}
	free(eff);
	free(dropped);
	bundle_reader_free(rd.br);
	gz_dec_free(rd.dec);
	fclose(in);
	return r;
}
