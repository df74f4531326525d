/*
 * push.c - deliver a signed bundle to one relay over SFTP (libssh2) and
 * learn the receiver's verdict; the relay part of `check`.
 *
 * Order of one push (docs/FORMAT.md section 5):
 *   TCP connect (connect_timeout) -> SSH handshake offering only the
 *   pinned host key types (known_hosts: the types of the lines for this
 *   host, hostkey.c; a SHA-256 pin: one type per handshake until the pin
 *   matches) -> host key compared with the pin BEFORE any authentication
 *   -> public key auth (key read through sys_read_file, handed to libssh2
 *   in memory: libssh2's own fopen fails on non-ASCII Windows paths, and
 *   so does its known_hosts reader) -> SFTP: signature to REMOTE/.AGENT.SEQ.RAND.tmp,
 *   bundle to another such name, posix-rename the signature to its final
 *   name, then the bundle (the commit point) -> poll the status file until
 *   the receiver has decided on our sequence or `wait` runs out.
 *
 * API:        push_relay, push_check.
 * Ownership:  nothing is handed out; sessions live within one call.
 * Errors:     push_relay returns a push_result and a reason string; every
 *             failure is logged and reported through sys_event.
 * Trust:      the relay is outside the agent's trust: its host key must
 *             match the pin (never trust on first use), and its status file
 *             is read up to RS_MAX_STATUS_BYTES and parsed by verdict.c
 *             (strict, bounded); a file it cannot use leaves the verdict
 *             unknown, with one warning per push.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libssh2.h>
#include <libssh2_sftp.h>

#include "agent_int.h"
#include "buf.h"
#include "hash.h"
#include "hostkey.h"
#include "log.h"
#include "rs_err.h"
#include "sys.h"
#include "verdict.h"

/* Largest chunk handed to libssh2_sftp_write / read at once. */
static const size_t push_chunk = 32 * 1024;

enum push_stage {
	STAGE_CONNECT,
	STAGE_HOSTKEY,
	STAGE_AUTH,
	STAGE_SFTP,
	STAGE_DONE,
};

struct push_conn {
	const struct agent_relay *r;
	libssh2_socket_t	 sock;
	int			 have_sock;
	LIBSSH2_SESSION		*ssh;
	LIBSSH2_SFTP		*sftp;
	enum push_stage		 stage;		/* reached, or failed at */
	char			 msg[512];	/* why the last step failed */
};

static void
push_ssh_err(struct push_conn *pc, const char *op)
{
	char *m = NULL;
	int len = 0;

	if (pc->ssh != NULL)
		libssh2_session_last_error(pc->ssh, &m, &len, 0);
	snprintf(pc->msg, sizeof(pc->msg), "%s: %.*s", op, len > 0 ? len : 7,
	    len > 0 && m != NULL ? m : "unknown");
}

static const char *
push_fx_str(unsigned long fx)
{
	switch (fx) {
	case LIBSSH2_FX_NO_SUCH_FILE:		return "no such file";
	case LIBSSH2_FX_PERMISSION_DENIED:	return "permission denied";
	case LIBSSH2_FX_FAILURE:		return "failure";
	case LIBSSH2_FX_NO_SUCH_PATH:		return "no such path";
	case LIBSSH2_FX_FILE_ALREADY_EXISTS:	return "file already exists";
	case LIBSSH2_FX_WRITE_PROTECT:		return "write protected";
	case LIBSSH2_FX_NO_SPACE_ON_FILESYSTEM:	return "no space left";
	case LIBSSH2_FX_QUOTA_EXCEEDED:		return "quota exceeded";
	case LIBSSH2_FX_OP_UNSUPPORTED:		return "operation unsupported";
	default:				return "SFTP error";
	}
}

/* Record an SFTP failure; protocol errors carry an FX code. */
static void
push_sftp_err(struct push_conn *pc, const char *op, const char *path)
{
	unsigned long fx;

	if (pc->ssh != NULL && libssh2_session_last_errno(pc->ssh) ==
	    LIBSSH2_ERROR_SFTP_PROTOCOL) {
		fx = libssh2_sftp_last_error(pc->sftp);
		snprintf(pc->msg, sizeof(pc->msg), "%s %s: %s (%lu)", op, path,
		    push_fx_str(fx), fx);
	} else {
		char what[300];

		snprintf(what, sizeof(what), "%s %s", op, path);
		push_ssh_err(pc, what);
	}
}

static void
push_close(struct push_conn *pc)
{
	if (pc->sftp != NULL)
		libssh2_sftp_shutdown(pc->sftp);
	pc->sftp = NULL;
	if (pc->ssh != NULL) {
		libssh2_session_disconnect(pc->ssh, "rcptsync-agent done");
		libssh2_session_free(pc->ssh);
	}
	pc->ssh = NULL;
	if (pc->have_sock)
		sys_tcp_close(pc->sock);
	pc->have_sock = 0;
}

/*
 * Host key algorithms tried, one at a time, for a SHA-256 pin.  The pin
 * does not say the key's type, and an sshd with several host keys
 * presents the one the client offers first: offering only one type per
 * handshake means a pinned ECDSA key is found on an sshd that also has
 * an Ed25519 one.  Ed25519 first, what ADMIN.md has the administrator
 * pin, so the usual relay needs one handshake.
 */
static const char *const push_probe[] = {
	"ssh-ed25519",
	"ecdsa-sha2-nistp256",
	"ecdsa-sha2-nistp384",
	"ecdsa-sha2-nistp521",
	"rsa-sha2-512,rsa-sha2-256",
};

/*
 * TCP connect and SSH handshake offering only the host key algorithms
 * methods.  *nokex is set when the server has no key of those types.
 */
static int
push_handshake(struct push_conn *pc, const char *methods, int *nokex)
{
	const struct agent_relay *r = pc->r;

	*nokex = 0;
	pc->stage = STAGE_CONNECT;
	if (sys_tcp_connect(r->host, r->port, r->connect_timeout, &pc->sock,
	    pc->msg, sizeof(pc->msg)) != RS_OK)
		return RS_ERR_SYSTEM;
	pc->have_sock = 1;
	if ((pc->ssh = libssh2_session_init()) == NULL) {
		snprintf(pc->msg, sizeof(pc->msg), "libssh2 session: no memory");
		return RS_ERR_NOMEM;
	}
	libssh2_session_set_blocking(pc->ssh, 1);
	libssh2_session_set_timeout(pc->ssh, (long)r->io_timeout * 1000L);
	if (libssh2_session_method_pref(pc->ssh, LIBSSH2_METHOD_HOSTKEY,
	    methods) != 0) {
		/* A type this libssh2 lacks: the server cannot show it. */
		*nokex = 1;
		push_ssh_err(pc, "set host key algorithms");
		return RS_ERR_ALG;
	}
	if (libssh2_session_handshake(pc->ssh, pc->sock) != 0) {
		*nokex = libssh2_session_last_errno(pc->ssh) ==
		    LIBSSH2_ERROR_KEX_FAILURE;
		push_ssh_err(pc, "SSH handshake");
		return RS_ERR_SYSTEM;
	}
	return RS_OK;
}

/* The key the server presented, and its fingerprint. */
static int
push_hostkey(struct push_conn *pc, const unsigned char **blob, size_t *len,
    char *fp, size_t fpsize)
{
	int type;

	*blob = (const unsigned char *)libssh2_session_hostkey(pc->ssh, len,
	    &type);
	if (*blob == NULL || hostkey_fp(*blob, *len, fp, fpsize) != RS_OK) {
		push_ssh_err(pc, "read host key");
		return RS_ERR_SYSTEM;
	}
	return RS_OK;
}

/* Accept the pin with or without base64 padding. */
static int
push_pin_eq(const char *pin, const char *fp)
{
	size_t wl = strlen(pin);

	while (wl > 7 && pin[wl - 1] == '=')
		wl--;
	return wl == strlen(fp) && memcmp(pin, fp, wl) == 0;
}

/*
 * SHA-256 pin: a handshake per host key type until the server presents
 * the pinned key.  Each failed try is closed before any authentication.
 */
static int
push_open_sha256(struct push_conn *pc)
{
	const struct agent_relay *r = pc->r;
	const unsigned char *blob;
	char fp[64], seen[400];
	size_t i, len, o = 0;
	int nokex, rc;

	seen[0] = '\0';
	for (i = 0; i < sizeof(push_probe) / sizeof(push_probe[0]); i++) {
		if ((rc = push_handshake(pc, push_probe[i], &nokex)) != RS_OK) {
			if (!nokex)
				return rc;
			push_close(pc);
			continue;
		}
		pc->stage = STAGE_HOSTKEY;
		if ((rc = push_hostkey(pc, &blob, &len, fp, sizeof(fp))) !=
		    RS_OK)
			return rc;
		if (push_pin_eq(r->hostkey_sha256, fp))
			return RS_OK;
		rs_debug("push %s: %s key %s is not the pin", r->name,
		    push_probe[i], fp);
		if (o < sizeof(seen))
			o += (size_t)snprintf(seen + o, sizeof(seen) - o,
			    "%s%s (%.*s)", o > 0 ? ", " : "", fp,
			    (int)strcspn(push_probe[i], ","), push_probe[i]);
		push_close(pc);
	}
	pc->stage = STAGE_HOSTKEY;
	snprintf(pc->msg, sizeof(pc->msg), "host key mismatch for %s port %u: "
	    "expected %s, presented %s", r->host, r->port, r->hostkey_sha256,
	    o > 0 ? seen : "no key of a type we know");
	return RS_ERR_SIG;
}

/* known_hosts: offer the pinned types only, then compare the key. */
static int
push_open_known_hosts(struct push_conn *pc)
{
	const struct agent_relay *r = pc->r;
	struct hostkey_pins *pins = NULL;
	const unsigned char *blob;
	struct rs_buf text;
	char methods[256], fp[64], want[64];
	size_t len;
	int nokex, revoked, rc;

	pc->stage = STAGE_HOSTKEY;
	rs_buf_init(&text, RS_MAX_KNOWN_HOSTS_BYTES);
	/* Read through the sys layer: any path, also on Windows. */
	if ((rc = sys_read_file(r->known_hosts, RS_MAX_KNOWN_HOSTS_BYTES,
	    &text)) != RS_OK) {
		snprintf(pc->msg, sizeof(pc->msg), "read known_hosts %s: %s",
		    r->known_hosts, rc == RS_ERR_SYSTEM ? sys_errmsg() :
		    rs_err_str(rc));
		goto out;
	}
	if ((rc = hostkey_pins_parse((const char *)text.data, text.len,
	    r->host, r->port, &pins)) != RS_OK ||
	    (rc = hostkey_pins_methods(pins, methods, sizeof(methods))) !=
	    RS_OK) {
		if (rc == RS_ERR_NOTFOUND && r->port == 22)
			snprintf(pc->msg, sizeof(pc->msg), "known_hosts %s: "
			    "no usable key for %s", r->known_hosts, r->host);
		else if (rc == RS_ERR_NOTFOUND)
			snprintf(pc->msg, sizeof(pc->msg), "known_hosts %s: "
			    "no usable key for [%s]:%u", r->known_hosts,
			    r->host, r->port);
		else
			snprintf(pc->msg, sizeof(pc->msg), "known_hosts %s: %s",
			    r->known_hosts, rs_err_str(rc));
		rc = RS_ERR_SIG;
		goto out;
	}
	if ((rc = push_handshake(pc, methods, &nokex)) != RS_OK) {
		if (nokex) {
			/* Not transient: the relay has none of the keys. */
			pc->stage = STAGE_HOSTKEY;
			snprintf(pc->msg, sizeof(pc->msg), "host key for %s "
			    "port %u: the server has no key of the types "
			    "pinned in %s (%s)", r->host, r->port,
			    r->known_hosts, methods);
		}
		goto out;
	}
	pc->stage = STAGE_HOSTKEY;
	if ((rc = push_hostkey(pc, &blob, &len, fp, sizeof(fp))) != RS_OK)
		goto out;
	if ((rc = hostkey_pins_check(pins, blob, len, &revoked)) != RS_OK &&
	    revoked)
		snprintf(pc->msg, sizeof(pc->msg), "host key revoked for %s "
		    "port %u: %s is marked @revoked in %s", r->host, r->port,
		    fp, r->known_hosts);
	else if (rc != RS_OK) {
		hostkey_pins_expected(pins, want, sizeof(want));
		snprintf(pc->msg, sizeof(pc->msg), "host key mismatch for %s "
		    "port %u (%s): expected %s, presented %s", r->host,
		    r->port, r->known_hosts, want, fp);
	}
out:
	hostkey_pins_free(pins);
	rs_buf_free(&text);
	return rc;
}

/* The login key, read through the sys layer and handed over in memory. */
static int
push_auth(struct push_conn *pc)
{
	const struct agent_relay *r = pc->r;
	struct rs_buf key;
	char what[600];
	int rc;

	pc->stage = STAGE_AUTH;
	rs_buf_init(&key, RS_MAX_KEYFILE_BYTES);
	if ((rc = sys_read_file(r->private_key, RS_MAX_KEYFILE_BYTES, &key)) !=
	    RS_OK) {
		snprintf(pc->msg, sizeof(pc->msg), "read private_key %s: %s",
		    r->private_key, rc == RS_ERR_SYSTEM ? sys_errmsg() :
		    rs_err_str(rc));
		rc = RS_ERR_SIGNER;
	} else if (libssh2_userauth_publickey_frommemory(pc->ssh, r->user,
	    strlen(r->user), NULL, 0, (const char *)key.data, key.len,
	    NULL) != 0) {
		snprintf(what, sizeof(what), "authenticate as %s with %s",
		    r->user, r->private_key);
		push_ssh_err(pc, what);
		rc = RS_ERR_SIGNER;
	}
	rs_buf_free(&key);	/* wipes the private key */
	return rc;
}

/*
 * Connect, pin, authenticate, start SFTP.  On failure pc->stage says
 * where and pc->msg why; the connection is closed.
 */
static int
push_open(struct push_conn *pc, const struct agent_relay *r)
{
	int rc;

	memset(pc, 0, sizeof(*pc));
	pc->r = r;
	/* The host key is checked BEFORE any authentication. */
	if ((rc = r->hostkey_sha256 != NULL ? push_open_sha256(pc) :
	    push_open_known_hosts(pc)) != RS_OK ||
	    (rc = push_auth(pc)) != RS_OK)
		goto out;
	pc->stage = STAGE_SFTP;
	if ((pc->sftp = libssh2_sftp_init(pc->ssh)) == NULL) {
		push_ssh_err(pc, "start SFTP");
		rc = RS_ERR_SYSTEM;
		goto out;
	}
	pc->stage = STAGE_DONE;
out:
	if (rc != RS_OK)
		push_close(pc);
	return rc;
}

/* One remote file being written. */
struct push_out {
	struct push_conn	*pc;
	LIBSSH2_SFTP_HANDLE	*fh;
	const char		*path;
	uint64_t		 n;		/* bytes written */
	int			 failed;	/* SFTP said no: pc->msg has it */
};

/* Write p[0..n) to the remote file (also a sys_read_each callback). */
static int
push_out_write(void *arg, const void *p, size_t n)
{
	struct push_out *po = arg;
	const char *c = p;
	ssize_t w;
	size_t want;

	while (n > 0) {
		want = n < push_chunk ? n : push_chunk;
		w = libssh2_sftp_write(po->fh, c, want);
		if (w <= 0) {
			push_sftp_err(po->pc, "write", po->path);
			po->failed = 1;
			return RS_ERR_SYSTEM;
		}
		c += w;
		n -= (size_t)w;
		po->n += (uint64_t)w;
	}
	return RS_OK;
}

/*
 * Upload to path, which must not exist yet: p[0..n), or (local not NULL)
 * the local file, read a chunk at a time.
 */
static int
push_put(struct push_conn *pc, const char *path, const void *p, size_t n,
    const char *local)
{
	struct push_out po;
	int r;

	memset(&po, 0, sizeof(po));
	po.pc = pc;
	po.path = path;
	/* 0640: the receiver reads it; nobody else needs the addresses. */
	po.fh = libssh2_sftp_open_ex(pc->sftp, path, (unsigned)strlen(path),
	    LIBSSH2_FXF_WRITE | LIBSSH2_FXF_CREAT | LIBSSH2_FXF_EXCL, 0640,
	    LIBSSH2_SFTP_OPENFILE);
	if (po.fh == NULL) {
		push_sftp_err(pc, "create", path);
		return RS_ERR_SYSTEM;
	}
	if (local == NULL)
		r = push_out_write(&po, p, n);
	else if ((r = sys_read_each(local, push_out_write, &po)) != RS_OK &&
	    !po.failed)
		snprintf(pc->msg, sizeof(pc->msg), "read %s: %s", local,
		    r == RS_ERR_SYSTEM ? sys_errmsg() : rs_err_str(r));
	/* The close reports a failed flush on the server: check it. */
	if (libssh2_sftp_close(po.fh) != 0 && r == RS_OK) {
		push_sftp_err(pc, "close", path);
		r = RS_ERR_SYSTEM;
	}
	return r;
}

static int
push_rename(struct push_conn *pc, const char *from, const char *to)
{
	if (libssh2_sftp_posix_rename_ex(pc->sftp, from,
	    (unsigned)strlen(from), to, (unsigned)strlen(to)) != 0) {
		push_sftp_err(pc, "rename", from);
		return RS_ERR_SYSTEM;
	}
	return RS_OK;
}

/* REMOTE/.AGENT.SEQ.RANDOM.tmp with 16 hex digits from the CSPRNG. */
static int
push_tmpname(const struct agent_relay *r, const char *agent, uint64_t seq,
    char *out, size_t outsize)
{
	unsigned char rnd[8];
	char hex[2 * sizeof(rnd) + 1];
	int n;

	if (rs_random(rnd, sizeof(rnd)) != RS_OK)
		return RS_ERR_CRYPTO;
	rs_hex(rnd, sizeof(rnd), hex);
	n = snprintf(out, outsize, "%s/.%s.%" PRIu64 ".%s.tmp", r->remote_dir,
	    agent, seq, hex);
	return n < 0 || (size_t)n >= outsize ? RS_ERR_LIMIT : RS_OK;
}

static int
push_upload(struct push_conn *pc, const struct push_item *it)
{
	const struct agent_relay *r = pc->r;
	char tsig[512], tbun[512], fsig[512], fbun[512];
	int r2, sig_up = 0, bun_up = 0;

	if ((r2 = push_tmpname(r, it->agent, it->seq, tsig, sizeof(tsig))) !=
	    RS_OK ||
	    (r2 = push_tmpname(r, it->agent, it->seq, tbun, sizeof(tbun))) !=
	    RS_OK) {
		snprintf(pc->msg, sizeof(pc->msg), "temporary name: %s",
		    rs_err_str(r2));
		return r2;
	}
	if (snprintf(fbun, sizeof(fbun), "%s/%s", r->remote_dir,
	    it->bundle_name) >= (int)sizeof(fbun) ||
	    snprintf(fsig, sizeof(fsig), "%s/%s.sig", r->remote_dir,
	    it->bundle_name) >= (int)sizeof(fsig)) {
		snprintf(pc->msg, sizeof(pc->msg), "remote path too long");
		return RS_ERR_LIMIT;
	}
	if ((r2 = push_put(pc, tsig, it->sig->data, it->sig->len, NULL)) !=
	    RS_OK)
		goto out;
	sig_up = 1;
	if ((r2 = push_put(pc, tbun, NULL, 0, it->bundle_path)) != RS_OK)
		goto out;
	bun_up = 1;
	/*
	 * Signature first, bundle last: the bundle's final name is the
	 * commit point the receiver looks for, and it then expects the
	 * signature beside it.
	 */
	if ((r2 = push_rename(pc, tsig, fsig)) != RS_OK)
		goto out;
	sig_up = 0;
	if ((r2 = push_rename(pc, tbun, fbun)) != RS_OK)
		goto out;
	bun_up = 0;
	rs_info("push %s: uploaded %s (%" PRIu64 " bytes) to %s:%s", r->name,
	    it->bundle_name, it->bundle_len, r->host, r->remote_dir);
out:
	/* Best effort; the receiver also removes stale temporaries. */
	if (sig_up)
		libssh2_sftp_unlink_ex(pc->sftp, tsig, (unsigned)strlen(tsig));
	if (bun_up)
		libssh2_sftp_unlink_ex(pc->sftp, tbun, (unsigned)strlen(tbun));
	return r2;
}

/*
 * Read the status file into out.  RS_ERR_NOTFOUND when it does not exist
 * (the receiver has not run yet), RS_ERR_LIMIT beyond RS_MAX_STATUS_BYTES,
 * RS_ERR_SYSTEM (pc->msg says why) when SFTP fails.
 */
static int
push_read_status(struct push_conn *pc, struct rs_buf *out)
{
	const char *path = pc->r->status_file;
	LIBSSH2_SFTP_HANDLE *fh;
	char chunk[4096];
	ssize_t n;
	int r = RS_OK;

	rs_buf_reset(out);
	fh = libssh2_sftp_open_ex(pc->sftp, path, (unsigned)strlen(path),
	    LIBSSH2_FXF_READ, 0, LIBSSH2_SFTP_OPENFILE);
	if (fh == NULL) {
		if (libssh2_session_last_errno(pc->ssh) ==
		    LIBSSH2_ERROR_SFTP_PROTOCOL &&
		    libssh2_sftp_last_error(pc->sftp) ==
		    LIBSSH2_FX_NO_SUCH_FILE)
			return RS_ERR_NOTFOUND;
		push_sftp_err(pc, "open", path);
		return RS_ERR_SYSTEM;
	}
	for (;;) {
		n = libssh2_sftp_read(fh, chunk, sizeof(chunk));
		if (n == 0)
			break;
		if (n < 0) {
			push_sftp_err(pc, "read", path);
			r = RS_ERR_SYSTEM;
			break;
		}
		/* A hostile relay may serve gigabytes: stop at the cap. */
		if ((r = rs_buf_put(out, chunk, (size_t)n)) != RS_OK)
			break;
	}
	libssh2_sftp_close(fh);
	return r;
}

/*
 * Read the status file and pick out agent's verdict.  RS_OK with *v;
 * RS_ERR_NOTFOUND (not written yet); RS_ERR_SYSTEM (SFTP failed, pc->msg
 * says why); any other error: the file is unusable, and bad says why.
 */
static int
push_status(struct push_conn *pc, struct rs_buf *st, const char *agent,
    struct verdict *v, char *bad, size_t badsize)
{
	struct verdict_err e;
	int rc;

	memset(v, 0, sizeof(*v));
	rc = push_read_status(pc, st);
	if (rc == RS_ERR_LIMIT) {
		snprintf(bad, badsize, "larger than %d bytes "
		    "(RS_MAX_STATUS_BYTES)", RS_MAX_STATUS_BYTES);
		return rc;
	}
	if (rc != RS_OK)
		return rc;
	if ((rc = verdict_parse((const char *)st->data, st->len, agent, v,
	    &e)) != RS_OK)
		snprintf(bad, badsize, "%s at byte %zu of %zu", e.what,
		    e.offset, st->len);
	return rc;
}

/*
 * Poll the status file every second until the receiver has decided on seq,
 * or r->wait seconds have passed.  A status file we cannot use (too big,
 * too deep, not JSON) gets one warning per push: the verdict is unknown,
 * and the push counts as failed if the file stays so until the deadline.
 */
static enum push_result
push_wait_verdict(struct push_conn *pc, const struct push_item *it,
    char *reason, size_t reasonsize)
{
	const struct agent_relay *r = pc->r;
	struct verdict v;
	struct rs_buf st;
	time_t deadline = time(NULL) + (time_t)r->wait;
	enum push_result res = PUSH_FAILED;
	uint64_t newer = 0;
	char bad[256];
	int rc, warned_io = 0, warned_bad = 0, unusable = 0;

	rs_buf_init(&st, RS_MAX_STATUS_BYTES);
	for (;;) {
		if (pc->sftp == NULL && push_open(pc, r) != RS_OK)
			rc = RS_ERR_SYSTEM;
		else
			rc = push_status(pc, &st, it->agent, &v, bad,
			    sizeof(bad));
		unusable = rc != RS_OK && rc != RS_ERR_NOTFOUND &&
		    rc != RS_ERR_SYSTEM;
		if (unusable && !warned_bad++)
			rs_warn("push %s: status file %s on %s is unusable: "
			    "%s; the verdict on sequence %" PRIu64 " is "
			    "unknown", r->name, r->status_file, r->host, bad,
			    it->seq);
		if (rc == RS_ERR_SYSTEM) {
			if (!warned_io++)
				rs_warn("push %s: %s", r->name, pc->msg);
			/* Reconnect next time: the session may be gone. */
			push_close(pc);
		}
		/*
		 * Only a verdict on our own sequence counts.  A newer accepted
		 * sequence seen before ours is decided means the relay already
		 * holds a list we did not send in this cycle (a second agent
		 * with our id, or our state or clock went back): ours will be
		 * refused as a replay, so keep waiting for that verdict.
		 */
		if (rc == RS_OK && v.rejected == it->seq) {
			snprintf(reason, reasonsize, "%s", v.reason[0] != '\0' ?
			    v.reason : "no reason given");
			res = PUSH_REFUSED;
			break;
		}
		if (rc == RS_OK && v.accepted == it->seq) {
			res = PUSH_INSTALLED;
			break;
		}
		if (rc == RS_OK && v.accepted > newer)
			newer = v.accepted;
		if (time(NULL) >= deadline && newer > it->seq) {
			snprintf(reason, reasonsize, "the relay reports sequence "
			    "%" PRIu64 ", newer than ours (%" PRIu64 "): is "
			    "another agent using id %s?", newer, it->seq,
			    it->agent);
			sys_event(SYS_EV_NO_VERDICT, "push %s: %s", r->name,
			    reason);
			break;
		}
		if (time(NULL) >= deadline) {
			if (unusable)
				snprintf(reason, reasonsize, "no verdict within "
				    "%us: the status file %s is unusable (%s)",
				    r->wait, r->status_file, bad);
			else
				snprintf(reason, reasonsize, "no verdict from "
				    "the receiver within %us (is "
				    "rcptsync-receiver running on %s?)",
				    r->wait, r->host);
			sys_event(SYS_EV_NO_VERDICT, "push %s: sequence %"
			    PRIu64 ": %s", r->name, it->seq, reason);
			break;
		}
		if (sys_wait(1) == 1) {
			snprintf(reason, reasonsize, "interrupted");
			break;
		}
	}
	rs_buf_free(&st);
	return res;
}

enum push_result
push_relay(const struct agent_cfg *c, const struct agent_relay *r,
    const struct push_item *it, int *uploaded, char *reason,
    size_t reasonsize)
{
	struct push_conn pc;
	enum push_result res = PUSH_FAILED;
	unsigned attempt, delay = r->backoff;
	int rc = RS_ERR_SYSTEM;

	(void)c;
	*uploaded = 0;
	reason[0] = '\0';
	memset(&pc, 0, sizeof(pc));
	for (attempt = 1; attempt <= r->retries; attempt++) {
		if ((rc = push_open(&pc, r)) == RS_OK &&
		    (rc = push_upload(&pc, it)) == RS_OK)
			break;
		push_close(&pc);
		if (pc.stage == STAGE_HOSTKEY) {
			/* Not transient: retrying cannot make it match. */
			sys_event(SYS_EV_HOSTKEY, "push %s: %s", r->name,
			    pc.msg);
			snprintf(reason, reasonsize, "%s", pc.msg);
			return PUSH_FAILED;
		}
		if (pc.stage == STAGE_AUTH) {
			sys_event(SYS_EV_SFTP, "push %s: %s", r->name, pc.msg);
			snprintf(reason, reasonsize, "%s", pc.msg);
			return PUSH_FAILED;
		}
		if (attempt == r->retries)
			break;
		sys_event(SYS_EV_RETRY, "push %s: %s; attempt %u of %u, "
		    "retrying in %us", r->name, pc.msg, attempt, r->retries,
		    delay);
		if (sys_wait(delay) == 1) {
			snprintf(reason, reasonsize, "interrupted");
			return PUSH_FAILED;
		}
		delay = delay > 0 && delay < 86400 ? delay * 2 : delay;
	}
	if (rc != RS_OK) {
		sys_event(SYS_EV_SFTP, "push %s: %s; giving up after %u "
		    "attempts", r->name, pc.msg, r->retries);
		snprintf(reason, reasonsize, "%s", pc.msg);
		return PUSH_FAILED;
	}
	*uploaded = 1;
	res = push_wait_verdict(&pc, it, reason, reasonsize);
	push_close(&pc);
	return res;
}

void
agent_check_line(int ok, const char *what, const char *why,
    const char *hint)
{
	if (ok)
		printf("OK   %s%s%s\n", what, why != NULL ? ": " : "",
		    why != NULL ? why : "");
	else
		printf("FAIL %s: %s%s%s%s\n", what, why != NULL ? why : "",
		    hint != NULL ? " (hint: " : "", hint != NULL ? hint : "",
		    hint != NULL ? ")" : "");
	fflush(stdout);
}

int
push_check(const struct agent_cfg *c, const struct agent_relay *r)
{
	struct push_conn pc;
	struct verdict v;
	struct rs_buf st;
	char what[256], tmp[512], info[RS_MAX_REASON + 128], bad[256];
	int fails = 0, rc;

	rs_buf_init(&st, RS_MAX_STATUS_BYTES);
	snprintf(what, sizeof(what), "relay %s: connect %s port %u", r->name,
	    r->host, r->port);
	rc = push_open(&pc, r);
	if (rc != RS_OK && pc.stage == STAGE_CONNECT) {
		agent_check_line(0, what, pc.msg, "is sshd running and the "
		    "port open from here? see connect_timeout");
		fails++;
		goto out;
	}
	agent_check_line(1, what, NULL, NULL);
	snprintf(what, sizeof(what), "relay %s: host key", r->name);
	if (rc != RS_OK && pc.stage == STAGE_HOSTKEY) {
		agent_check_line(0, what, pc.msg, "compare with ssh-keygen "
		    "-lf /etc/ssh/ssh_host_ed25519_key.pub on the relay");
		fails++;
		goto out;
	}
	agent_check_line(1, what, r->hostkey_sha256 != NULL ?
	    r->hostkey_sha256 : r->known_hosts, NULL);
	snprintf(what, sizeof(what), "relay %s: authenticate as %s", r->name,
	    r->user);
	if (rc != RS_OK && pc.stage == STAGE_AUTH) {
		agent_check_line(0, what, pc.msg, "is the .pub of private_key "
		    "in the account's authorized_keys?");
		fails++;
		goto out;
	}
	if (rc != RS_OK) {
		agent_check_line(0, what, pc.msg, "does the account allow "
		    "the sftp subsystem (internal-sftp)?");
		fails++;
		goto out;
	}
	agent_check_line(1, what, NULL, NULL);

	snprintf(what, sizeof(what), "relay %s: write test in %s", r->name,
	    r->remote_dir);
	if ((rc = push_tmpname(r, c->id, 0, tmp, sizeof(tmp))) == RS_OK)
		rc = push_put(&pc, tmp, "rcptsync check\n", 15, NULL);
	if (rc == RS_OK && libssh2_sftp_unlink_ex(pc.sftp, tmp,
	    (unsigned)strlen(tmp)) != 0) {
		push_sftp_err(&pc, "remove", tmp);
		rc = RS_ERR_SYSTEM;
	}
	if (rc != RS_OK) {
		agent_check_line(0, what, pc.msg, "remote_dir must exist in "
		    "the chroot and be writable by the account");
		fails++;
	} else
		agent_check_line(1, what, NULL, NULL);

	snprintf(what, sizeof(what), "relay %s: status file %s", r->name,
	    r->status_file);
	rc = push_status(&pc, &st, c->id, &v, bad, sizeof(bad));
	if (rc == RS_ERR_NOTFOUND)
		agent_check_line(1, what, "not written yet (the receiver has "
		    "not run)", NULL);
	else if (rc == RS_ERR_SYSTEM) {
		agent_check_line(0, what, pc.msg, "the receiver writes it; "
		    "check status_file on both sides");
		fails++;
	} else if (rc != RS_OK) {
		agent_check_line(0, what, bad, "is it the receiver's "
		    "status.json?");
		fails++;
	} else {
		snprintf(info, sizeof(info), "accepted sequence %" PRIu64
		    ", rejected sequence %" PRIu64 "%s%s", v.accepted,
		    v.rejected, v.reason[0] != '\0' ? ": " : "", v.reason);
		agent_check_line(1, what, info, NULL);
	}
out:
	push_close(&pc);
	rs_buf_free(&st);
	return fails;
}
