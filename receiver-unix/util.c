/*
 * util.c - small file helpers of rcptsync-receiver: path joining, atomic
 * replace (temporary name, fsync, rename, directory fsync), bounded reads,
 * removing whatever a name is (also a directory tree), cleaning up after
 * killed writers, a monotonic clock.
 *
 * API:        rcv_util_* (receiver.h).
 * Ownership:  rcv_util_read_small returns a malloc'd NUL-terminated copy
 *             the caller frees; everything else writes into caller memory.
 * Errors:     RS_ERR_SYSTEM with errno set and the failure logged as
 *             "<operation> <path>: <strerror>"; RS_ERR_LIMIT for too long
 *             paths or too large files.
 * Trust:      rcv_util_read_small opens with O_NOFOLLOW|O_NONBLOCK and
 *             refuses anything but a regular file, so it may be pointed at
 *             a file in a directory someone else can write.
 *             rcv_util_read_admin is the same but follows symbolic links:
 *             for the administrator's own files (configuration,
 *             allowed_signers, static_file), which configuration
 *             management tools often install as links.  rcv_util_remove
 *             never follows a link: it is used on the spool.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bundle.h"
#include "hash.h"
#include "log.h"
#include "receiver.h"
#include "rs_err.h"

int
rcv_util_path(char *out, size_t outsize, const char *dir, const char *name)
{
	int n;

	n = snprintf(out, outsize, "%s/%s", dir, name);
	if (n < 0 || (size_t)n >= outsize) {
		rs_error("path %s/%s: too long", dir, name);
		return RS_ERR_LIMIT;
	}
	return RS_OK;
}

int
rcv_util_dirname(const char *path, char *out, size_t outsize)
{
	const char *slash;
	size_t n;

	slash = strrchr(path, '/');
	if (slash == NULL) {
		if (outsize < 2)
			return RS_ERR_LIMIT;
		out[0] = '.';
		out[1] = '\0';
		return RS_OK;
	}
	n = slash == path ? 1 : (size_t)(slash - path);
	if (n >= outsize)
		return RS_ERR_LIMIT;
	memcpy(out, path, n);
	out[n] = '\0';
	return RS_OK;
}

int
rcv_util_fsync_dir(const char *dir)
{
	int fd, r = RS_OK;

	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1) {
		rs_error("open %s: %s", dir, strerror(errno));
		return RS_ERR_SYSTEM;
	}
	if (fsync(fd) == -1) {
		rs_error("fsync %s: %s", dir, strerror(errno));
		r = RS_ERR_SYSTEM;
	}
	close(fd);
	return r;
}

int
rcv_util_mkdir(const char *dir, unsigned mode)
{
	struct stat st;

	if (mkdir(dir, (mode_t)mode) == 0)
		return RS_OK;
	if (errno == EEXIST && stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
		return RS_OK;
	rs_error("mkdir %s: %s", dir, strerror(errno));
	return RS_ERR_SYSTEM;
}

int
rcv_util_write_atomic(const char *path, const void *data, size_t len,
    unsigned mode)
{
	char tmp[4096], dir[4096];
	const unsigned char *p = data;
	unsigned char rnd[8];
	char hex[2 * sizeof(rnd) + 1];
	int fd = -1, r = RS_ERR_SYSTEM, n;
	ssize_t w;

	if (rs_random(rnd, sizeof(rnd)) != RS_OK)
		return RS_ERR_CRYPTO;
	rs_hex(rnd, sizeof(rnd), hex);
	n = snprintf(tmp, sizeof(tmp), "%s.%s.tmp", path, hex);
	if (n < 0 || (size_t)n >= sizeof(tmp) ||
	    rcv_util_dirname(path, dir, sizeof(dir)) != RS_OK) {
		rs_error("write %s: path too long", path);
		return RS_ERR_LIMIT;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    (mode_t)mode);
	if (fd == -1) {
		rs_error("create %s: %s", tmp, strerror(errno));
		return RS_ERR_SYSTEM;
	}
	/* The umask must not make the status file unreadable for SFTP. */
	if (fchmod(fd, (mode_t)mode) == -1) {
		rs_error("chmod %s: %s", tmp, strerror(errno));
		goto out;
	}
	while (len > 0) {
		w = write(fd, p, len);
		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0) {
			rs_error("write %s: %s", tmp,
			    w == 0 ? "short write" : strerror(errno));
			goto out;
		}
		p += w;
		len -= (size_t)w;
	}
	if (fsync(fd) == -1) {
		rs_error("fsync %s: %s", tmp, strerror(errno));
		goto out;
	}
	if (close(fd) == -1) {
		fd = -1;
		rs_error("close %s: %s", tmp, strerror(errno));
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) == -1) {
		rs_error("rename %s to %s: %s", tmp, path, strerror(errno));
		goto out;
	}
	r = rcv_util_fsync_dir(dir);
 out:
	if (fd != -1)
		close(fd);
	if (r != RS_OK)
		unlink(tmp);
	return r;
}

/* Both readers: follow is 0 for STATE, 1 for the admin's own files. */
static int
rcv_util_read(const char *path, size_t max, int follow, char **out,
    size_t *len)
{
	struct stat st;
	char *p = NULL;
	size_t got = 0;
	ssize_t n;
	int fd, r = RS_ERR_SYSTEM;

	*out = NULL;
	*len = 0;
	fd = open(path, O_RDONLY | (follow ? 0 : O_NOFOLLOW) | O_NONBLOCK |
	    O_CLOEXEC);
	if (fd == -1) {
		if (errno == ENOENT)
			return RS_ERR_NOTFOUND;
		rs_error("open %s: %s", path, strerror(errno));
		return RS_ERR_SYSTEM;
	}
	if (fstat(fd, &st) == -1) {
		rs_error("stat %s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rs_error("open %s: not a regular file", path);
		r = RS_ERR_FORMAT;
		goto out;
	}
	if (st.st_size < 0 || (uint64_t)st.st_size > max) {
		rs_error("read %s: larger than %zu bytes", path, max);
		r = RS_ERR_LIMIT;
		goto out;
	}
	if ((p = malloc((size_t)st.st_size + 1)) == NULL) {
		r = RS_ERR_NOMEM;
		goto out;
	}
	/* Read one byte more than fstat said, to notice a growing file. */
	for (;;) {
		n = read(fd, p + got, (size_t)st.st_size + 1 - got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			rs_error("read %s: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		got += (size_t)n;
		if (got > (size_t)st.st_size) {
			rs_error("read %s: file grew while reading", path);
			r = RS_ERR_LIMIT;
			goto out;
		}
	}
	p[got] = '\0';
	*out = p;
	*len = got;
	p = NULL;
	r = RS_OK;
 out:
	free(p);
	close(fd);
	return r;
}

int
rcv_util_read_small(const char *path, size_t max, char **out, size_t *len)
{
	return rcv_util_read(path, max, 0, out, len);
}

int
rcv_util_read_admin(const char *path, size_t max, char **out, size_t *len)
{
	return rcv_util_read(path, max, 1, out, len);
}

int
rcv_util_fsync_path(const char *path)
{
	int fd, r = RS_OK;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd == -1) {
		rs_error("open %s: %s", path, strerror(errno));
		return RS_ERR_SYSTEM;
	}
	if (fsync(fd) == -1) {
		rs_error("fsync %s: %s", path, strerror(errno));
		r = RS_ERR_SYSTEM;
	}
	close(fd);
	return r;
}

/*
 * Remove name below the directory dfd, whatever it is.  A directory is
 * emptied first, at most RS_MAX_REMOVE_DEPTH levels down; nothing is ever
 * followed (openat with O_NOFOLLOW), so a planted symlink can only lose
 * itself.  Every entry that stays is logged; *left counts them.
 */
static void
rcv_util_remove_at(int dfd, const char *shown, const char *name, int depth,
    unsigned *left)
{
	char sub[4096];
	struct dirent *e;
	DIR *d;
	int fd;

	if (unlinkat(dfd, name, 0) == 0 || errno == ENOENT)
		return;
	if (errno != EISDIR && errno != EPERM) {
		rs_warn("remove %s: %s", shown, strerror(errno));
		++*left;
		return;
	}
	/* A directory (Linux says EISDIR, POSIX allows EPERM). */
	if (depth < RS_MAX_REMOVE_DEPTH && (fd = openat(dfd, name, O_RDONLY |
	    O_DIRECTORY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)) != -1) {
		if ((d = fdopendir(fd)) == NULL)
			close(fd);
		else {
			while ((e = readdir(d)) != NULL) {
				if (strcmp(e->d_name, ".") == 0 ||
				    strcmp(e->d_name, "..") == 0)
					continue;
				snprintf(sub, sizeof(sub), "%s/%s", shown,
				    e->d_name);
				rcv_util_remove_at(dirfd(d), sub, e->d_name,
				    depth + 1, left);
			}
			closedir(d);
		}
	}
	if (unlinkat(dfd, name, AT_REMOVEDIR) == 0 || errno == ENOENT)
		return;
	rs_warn("remove %s: %s", shown, depth >= RS_MAX_REMOVE_DEPTH ?
	    "nested too deep" : strerror(errno));
	++*left;
}

int
rcv_util_remove(const char *dir, const char *name)
{
	char shown[4096];
	unsigned left = 0;
	int dfd;

	if (rcv_util_path(shown, sizeof(shown), dir, name) != RS_OK)
		return RS_ERR_LIMIT;
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd == -1) {
		rs_warn("open %s: %s", dir, strerror(errno));
		return RS_ERR_SYSTEM;
	}
	rcv_util_remove_at(dfd, shown, name, 0, &left);
	close(dfd);
	return left == 0 ? RS_OK : RS_ERR_SYSTEM;
}

void
rcv_util_words_free(char **w, size_t n)
{
	size_t i;

	if (w == NULL)
		return;
	for (i = 0; i < n; i++)
		free(w[i]);
	free(w);
}

void
rcv_util_time(time_t t, char *out, size_t outsize)
{
	bundle_time_fmt(t, out, outsize);
}

/* Does name end in ".<16 hex digits>.tmp", as rcv_util_write_atomic makes? */
static int
rcv_util_is_atomic_tmp(const char *name)
{
	size_t n = strlen(name), i;
	const size_t tail = 1 + 16 + 4;		/* ".<hex>.tmp" */

	if (n <= tail || strcmp(name + n - 4, ".tmp") != 0 ||
	    name[n - tail] != '.')
		return 0;
	for (i = n - tail + 1; i < n - 4; i++)
		if (!((name[i] >= '0' && name[i] <= '9') ||
		    (name[i] >= 'a' && name[i] <= 'f')))
			return 0;
	return 1;
}

/*
 * Remove what a receiver killed inside rcv_util_write_atomic left in dir.
 * Only called with the lock held, so no live writer owns such a file.
 * Only for the receiver's own directories: see rcv_util_clean_tmp_of.
 */
void
rcv_util_clean_tmp(const char *dir)
{
	char path[4096];
	struct dirent *e;
	DIR *d;

	if ((d = opendir(dir)) == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if (!rcv_util_is_atomic_tmp(e->d_name) ||
		    rcv_util_path(path, sizeof(path), dir, e->d_name) != RS_OK)
			continue;
		if (unlink(path) == 0)
			rs_info("clean %s: left by an interrupted run", path);
	}
	closedir(d);
}

/*
 * The same for one file in a directory shared with other programs (the
 * node_exporter textfile directory): only "path.<hex>.tmp" goes, never
 * another program's temporary that happens to look like ours.
 */
void
rcv_util_clean_tmp_of(const char *path)
{
	char dir[4096], full[4096];
	const char *base = strrchr(path, '/');
	struct dirent *e;
	size_t bl;
	DIR *d;

	base = base != NULL ? base + 1 : path;
	bl = strlen(base);
	if (rcv_util_dirname(path, dir, sizeof(dir)) != RS_OK ||
	    (d = opendir(dir)) == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, base, bl) != 0 ||
		    strlen(e->d_name) != bl + 1 + 16 + 4 ||
		    !rcv_util_is_atomic_tmp(e->d_name) ||
		    rcv_util_path(full, sizeof(full), dir, e->d_name) != RS_OK)
			continue;
		if (unlink(full) == 0)
			rs_info("clean %s: left by an interrupted run", full);
	}
	closedir(d);
}

uint64_t
rcv_util_usec(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		return 0;
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}
