/*
 * sys_unix.c - sys.h for POSIX systems: files, atomic replace, TCP connect
 * with a timeout, signal-driven waits, the LDAP password file, events.
 *
 * API:        sys.h.
 * Ownership:  sys_read_file fills the caller's rs_buf; nothing else is
 *             handed out.
 * Errors:     RS_ERR_SYSTEM with errno's text in sys_errmsg(); a missing
 *             file is RS_ERR_NOTFOUND from sys_read_file.
 * Trust:      the password file must not be readable by others; state and
 *             key files are written 0600 when private.
 */
#include <sys/types.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "cfg.h"
#include "hash.h"
#include "ldapx.h"
#include "log.h"
#include "rs_err.h"
#include "sys.h"

static char			sys_msg[512];
static volatile sig_atomic_t	sys_stop, sys_sync, sys_reload;
static int			sys_pipe[2] = { -1, -1 };

static int
sys_fail(const char *what)
{
	if (what != NULL)
		snprintf(sys_msg, sizeof(sys_msg), "%.400s: %s", what,
		    strerror(errno));
	else
		snprintf(sys_msg, sizeof(sys_msg), "%s", strerror(errno));
	return RS_ERR_SYSTEM;
}

const char *
sys_errmsg(void)
{
	return sys_msg;
}

/* Async-signal-safe: set a flag and wake sys_wait through the pipe. */
static void
sys_on_signal(int sig)
{
	int saved = errno;
	char c = 0;

	if (sig == SIGTERM || sig == SIGINT)
		sys_stop = 1;
	else if (sig == SIGUSR1)
		sys_sync = 1;
	else if (sig == SIGHUP)
		sys_reload = 1;
	if (sys_pipe[1] != -1)
		(void)!write(sys_pipe[1], &c, 1);
	errno = saved;
}

int
sys_init(void)
{
	struct sigaction sa;
	int i, fl;

	if (sys_pipe[0] != -1)
		return RS_OK;
	if (pipe(sys_pipe) != 0)
		return sys_fail("pipe");
	for (i = 0; i < 2; i++) {
		fl = fcntl(sys_pipe[i], F_GETFL);
		if (fl == -1 || fcntl(sys_pipe[i], F_SETFL, fl | O_NONBLOCK) ==
		    -1 || fcntl(sys_pipe[i], F_SETFD, FD_CLOEXEC) == -1)
			return sys_fail("fcntl");
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = sys_on_signal;
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: a blocked poll should return at once. */
	if (sigaction(SIGTERM, &sa, NULL) != 0 ||
	    sigaction(SIGINT, &sa, NULL) != 0 ||
	    sigaction(SIGUSR1, &sa, NULL) != 0 ||
	    sigaction(SIGHUP, &sa, NULL) != 0)
		return sys_fail("sigaction");
	/* A relay that drops the connection must not kill the agent. */
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGPIPE, &sa, NULL) != 0)
		return sys_fail("sigaction");
	umask(077);
	return RS_OK;
}

int
sys_read_file(const char *path, size_t max, struct rs_buf *out)
{
	char chunk[65536];
	ssize_t n;
	int fd, r = RS_OK;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		if (errno == ENOENT) {
			sys_fail(path);
			return RS_ERR_NOTFOUND;
		}
		return sys_fail(path);
	}
	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n == 0)
			break;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = sys_fail(path);
			break;
		}
		if (out->len + (size_t)n > max) {
			r = RS_ERR_LIMIT;
			break;
		}
		if ((r = rs_buf_put(out, chunk, (size_t)n)) != RS_OK)
			break;
	}
	rs_wipe(chunk, sizeof(chunk));
	close(fd);
	return r;
}

int
sys_read_each(const char *path, sys_chunk_fn *fn, void *arg)
{
	char chunk[65536];
	ssize_t n;
	int fd, r = RS_OK;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		r = sys_fail(path);
		return errno == ENOENT ? RS_ERR_NOTFOUND : r;
	}
	while (r == RS_OK) {
		n = read(fd, chunk, sizeof(chunk));
		if (n == 0)
			break;
		if (n < 0) {
			if (errno != EINTR)
				r = sys_fail(path);
			continue;
		}
		r = fn(arg, chunk, (size_t)n);
	}
	close(fd);
	return r;
}

/* The directory part of path ("." when there is none). */
static int
sys_dirname(const char *path, char *out, size_t outsize)
{
	const char *slash = strrchr(path, '/');
	size_t n;

	if (slash == NULL) {
		snprintf(out, outsize, ".");
		return RS_OK;
	}
	n = slash == path ? 1 : (size_t)(slash - path);
	if (n >= outsize)
		return RS_ERR_LIMIT;
	memcpy(out, path, n);
	out[n] = '\0';
	return RS_OK;
}

struct sys_wfile {
	int	 fd;
	char	 path[4096], tmp[4096], dir[4096];
};

int
sys_wfile_open(const char *path, int private, struct sys_wfile **out)
{
	struct sys_wfile *f;
	unsigned char rnd[8];
	char hex[17];
	int r;

	*out = NULL;
	if ((f = calloc(1, sizeof(*f))) == NULL)
		return RS_ERR_NOMEM;
	f->fd = -1;
	if (sys_dirname(path, f->dir, sizeof(f->dir)) != RS_OK ||
	    rs_random(rnd, sizeof(rnd)) != RS_OK ||
	    snprintf(f->path, sizeof(f->path), "%s", path) >=
	    (int)sizeof(f->path)) {
		free(f);
		return RS_ERR_LIMIT;
	}
	rs_hex(rnd, sizeof(rnd), hex);
	if (snprintf(f->tmp, sizeof(f->tmp), "%s.%s.tmp", path, hex) >=
	    (int)sizeof(f->tmp)) {
		free(f);
		return RS_ERR_LIMIT;
	}
	if ((f->fd = open(f->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    private ? 0600 : 0644)) == -1) {
		r = sys_fail(f->tmp);
		free(f);
		return r;
	}
	/* umask may have narrowed it; make the mode what we asked for. */
	if (fchmod(f->fd, private ? 0600 : 0644) != 0) {
		r = sys_fail(f->tmp);
		sys_wfile_abort(f);
		return r;
	}
	*out = f;
	return RS_OK;
}

int
sys_wfile_write(struct sys_wfile *f, const void *p, size_t n)
{
	const unsigned char *c = p;
	ssize_t w;

	while (n > 0) {
		w = write(f->fd, c, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return sys_fail(f->tmp);
		}
		c += w;
		n -= (size_t)w;
	}
	return RS_OK;
}

int
sys_wfile_commit(struct sys_wfile *f)
{
	int dfd, r;

	/* Data on disk before the name points at it. */
	if (fsync(f->fd) != 0) {
		r = sys_fail(f->tmp);
		goto fail;
	}
	r = close(f->fd);
	f->fd = -1;
	if (r != 0) {
		r = sys_fail(f->tmp);
		goto fail;
	}
	if (rename(f->tmp, f->path) != 0) {
		r = sys_fail(f->path);
		goto fail;
	}
	/* And the rename itself, so a crash cannot bring back the old file. */
	r = RS_OK;
	if ((dfd = open(f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1) {
		if (fsync(dfd) != 0 && errno != EINVAL)
			r = sys_fail(f->dir);
		close(dfd);
	}
	free(f);
	return r;
fail:
	sys_wfile_abort(f);
	return r;
}

void
sys_wfile_abort(struct sys_wfile *f)
{
	if (f == NULL)
		return;
	if (f->fd != -1)
		close(f->fd);
	unlink(f->tmp);
	free(f);
}

int
sys_write_file(const char *path, const void *p, size_t n, int private)
{
	struct sys_wfile *f = NULL;
	int r;

	if ((r = sys_wfile_open(path, private, &f)) != RS_OK)
		return r;
	if ((r = sys_wfile_write(f, p, n)) != RS_OK) {
		sys_wfile_abort(f);
		return r;
	}
	return sys_wfile_commit(f);
}

int
sys_remove(const char *path)
{
	if (unlink(path) != 0 && errno != ENOENT)
		return sys_fail(path);
	return RS_OK;
}

int
sys_mkdirs(const char *path, int private)
{
	char buf[4096];
	size_t n = strlen(path), i;

	if (n == 0 || n >= sizeof(buf))
		return RS_ERR_INVAL;
	memcpy(buf, path, n + 1);
	for (i = 1; i <= n; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, private ? 0700 : 0755) != 0 && errno != EEXIST)
			return sys_fail(buf);
		buf[i] = i == n ? '\0' : '/';
	}
	return RS_OK;
}

int
sys_exists(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0;
}

const char *
sys_default_config(void)
{
	return "/etc/rcptsync/agent.conf";
}

int
sys_default_bind(void)
{
	return LDAPX_BIND_SIMPLE;
}

int
sys_lock_state(const char *state_dir, unsigned wait_secs, void **h)
{
	char path[4096];
	unsigned waited = 0;
	int fd, *p;

	*h = NULL;
	if (snprintf(path, sizeof(path), "%s/lock", state_dir) >=
	    (int)sizeof(path)) {
		snprintf(sys_msg, sizeof(sys_msg), "lock %s: path too long",
		    state_dir);
		return RS_ERR_LIMIT;
	}
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
	    0600)) == -1)
		return sys_fail(path);
	/* flock, not fcntl: the lock belongs to this descriptor only. */
	while (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		if (errno != EWOULDBLOCK && errno != EINTR) {
			sys_fail(path);
			close(fd);
			return RS_ERR_SYSTEM;
		}
		if (waited++ >= wait_secs || sys_wait(1) == 1) {
			snprintf(sys_msg, sizeof(sys_msg), "lock %.400s: "
			    "another rcptsync-agent is running", path);
			close(fd);
			return RS_ERR_LIMIT;
		}
	}
	if ((p = malloc(sizeof(*p))) == NULL) {
		close(fd);
		return RS_ERR_NOMEM;
	}
	*p = fd;
	*h = p;
	return RS_OK;
}

void
sys_unlock_state(void *h)
{
	int *p = h;

	if (p == NULL)
		return;
	close(*p);		/* drops the flock */
	free(p);
}

const char *
sys_default_state_dir(void)
{
	return "/var/lib/rcptsync-agent";
}

int
sys_tcp_connect(const char *host, unsigned port, unsigned timeout,
    libssh2_socket_t *s, char *msg, size_t msgsize)
{
	struct addrinfo hints, *res = NULL, *ai;
	struct pollfd pfd;
	char serv[16];
	socklen_t sl;
	int fd = -1, fl, e, err = 0, rc;

	*s = -1;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(serv, sizeof(serv), "%u", port);
	if ((e = getaddrinfo(host, serv, &hints, &res)) != 0) {
		snprintf(msg, msgsize, "resolve %s: %s", host,
		    gai_strerror(e));
		return RS_ERR_SYSTEM;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
		    ai->ai_protocol);
		if (fd == -1) {
			err = errno;
			continue;
		}
		fl = fcntl(fd, F_GETFL);
		if (fl == -1 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1) {
			err = errno;
			goto next;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
			if (errno != EINPROGRESS) {
				err = errno;
				goto next;
			}
			pfd.fd = fd;
			pfd.events = POLLOUT;
			do
				rc = poll(&pfd, 1, (int)timeout * 1000);
			while (rc == -1 && errno == EINTR && !sys_stop);
			if (rc == 0) {
				err = ETIMEDOUT;
				goto next;
			}
			if (rc < 0) {
				err = errno;
				goto next;
			}
			sl = sizeof(e);
			if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &sl) != 0)
				e = errno;
			if (e != 0) {
				err = e;
				goto next;
			}
		}
		/* libssh2 runs the socket in blocking mode with its timeout. */
		if (fcntl(fd, F_SETFL, fl) == -1) {
			err = errno;
			goto next;
		}
		freeaddrinfo(res);
		*s = fd;
		return RS_OK;
next:
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	snprintf(msg, msgsize, "connect %s port %u: %s", host, port,
	    strerror(err != 0 ? err : ECONNREFUSED));
	return RS_ERR_SYSTEM;
}

void
sys_tcp_close(libssh2_socket_t s)
{
	if (s >= 0)
		close(s);
}

static int
sys_pending(void)
{
	if (sys_stop)
		return 1;
	if (sys_sync) {
		sys_sync = 0;
		return 2;
	}
	if (sys_reload) {
		sys_reload = 0;
		return 3;
	}
	return 0;
}

int
sys_wait(unsigned secs)
{
	struct timespec now, end;
	struct pollfd pfd;
	char drain[64];
	long ms;
	int r;

	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += (time_t)secs;
	for (;;) {
		/* Check the flags after draining, so no signal is lost. */
		while (sys_pipe[0] != -1 &&
		    read(sys_pipe[0], drain, sizeof(drain)) > 0)
			;
		if ((r = sys_pending()) != 0)
			return r;
		clock_gettime(CLOCK_MONOTONIC, &now);
		ms = (long)(end.tv_sec - now.tv_sec) * 1000 +
		    (end.tv_nsec - now.tv_nsec) / 1000000;
		if (ms <= 0)
			return 0;
		pfd.fd = sys_pipe[0];
		pfd.events = POLLIN;
		(void)poll(&pfd, sys_pipe[0] != -1 ? 1 : 0, (int)ms);
	}
}

int
sys_stop_requested(void)
{
	return sys_stop != 0;
}

uint64_t
sys_msec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

char
sys_path_sep(void)
{
	return '/';
}

int
sys_isatty_stderr(void)
{
	return isatty(STDERR_FILENO);
}

int
sys_get_password(const struct cfg_section *ldap, struct rs_buf *out)
{
	const char *path = cfg_get(ldap, "password_file");
	struct rs_buf b;
	struct stat sb;
	size_t n;
	int fd, r;

	rs_buf_init(&b, 4096);
	if (path == NULL) {
		rs_error("ldap password: bind = simple needs password_file");
		r = RS_ERR_INVAL;
		goto out;
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 ||
	    fstat(fd, &sb) != 0) {
		r = sys_fail(path);
		if (fd != -1)
			close(fd);
		rs_error("read password file %s: %s", path, strerror(errno));
		goto out;
	}
	close(fd);
	/* A password others can read is no secret: refuse, say how to fix. */
	if (sb.st_mode & S_IROTH) {
		rs_error("read password file %s: readable by others (mode "
		    "%04o); run chmod 600 %s", path,
		    (unsigned)(sb.st_mode & 07777), path);
		r = RS_ERR_INVAL;
		goto out;
	}
	if ((r = sys_read_file(path, 4096, &b)) != RS_OK) {
		rs_error("read password file %s: %s", path,
		    r == RS_ERR_SYSTEM ? sys_msg : rs_err_str(r));
		goto out;
	}
	for (n = 0; n < b.len && b.data[n] != '\n' && b.data[n] != '\r'; n++)
		;
	if (n == 0) {
		rs_error("read password file %s: the first line is empty",
		    path);
		r = RS_ERR_FORMAT;
		goto out;
	}
	r = rs_buf_put(out, b.data, n);
out:
	rs_buf_free(&b);
	return r;
}

void
sys_event(enum sys_event ev, const char *fmt, ...)
{
	char line[RS_LOG_LINE];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (ev >= 3000)
		rs_error("%s", line);
	else if (ev >= 2000)
		rs_warn("%s", line);
	else
		rs_info("%s", line);
}
