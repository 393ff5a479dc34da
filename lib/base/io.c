/* io.c: atomic outputs, exact reads, whole-file reads and maps (see io.h). */
#include "base/io.h"
#include "base/error.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int od_out_open(struct od_out *o, const char *path)
{
	memset(o, 0, sizeof *o);
	o->fd = -1;
	if (!strcmp(path, "-")) {
		o->fd = STDOUT_FILENO;
		o->label = "<stdout>";
		return OD_OK;
	}
	/* Only a regular file (or a new one) can be replaced atomically; a device,
	 * FIFO or socket (/dev/null, a named pipe) is written in place: renaming a
	 * temporary file over it would replace the device itself. */
	struct stat st;
	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
		if (S_ISDIR(st.st_mode))
			return od_error(OD_EIO, "'%s': is a directory", path);
		o->fd = open(path, O_WRONLY | O_CLOEXEC);
		if (o->fd < 0)
			return od_error(OD_EIO, "'%s': cannot open: %s", path, strerror(errno));
		o->label = path;
		o->direct = 1;
		return OD_OK;
	}
	size_t n = strlen(path);
	o->path = strdup(path);
	o->tmp = malloc(n + 16);
	if (!o->path || !o->tmp) {
		free(o->path);
		free(o->tmp);
		o->path = o->tmp = NULL;
		return od_error(OD_ENOMEM, "out of memory");
	}
	/* The temporary lives beside the target so that rename() is atomic. Its name
	 * starts with the target's, so a leftover is easy to recognise. */
	const char *slash = strrchr(path, '/');
	size_t dirlen = slash ? (size_t)(slash - path) + 1 : 0;
	snprintf(o->tmp, n + 16, "%.*s.%s.XXXXXX", (int)dirlen, path, path + dirlen);
	o->fd = mkstemp(o->tmp);
	if (o->fd < 0) {
		int e = errno;
		od_out_abort(o);
		return od_error(OD_EIO, "'%s': cannot create: %s", path, strerror(e));
	}
	o->label = o->path;
	return OD_OK;
}

int od_out_write(struct od_out *o, const void *buf, size_t n)
{
	return od_write_all(o->fd, buf, n, o->label);
}

/* The process's umask. umask() can only read it by setting it (umask(0), then
 * back), and a file or folder another thread creates in between gets no umask
 * at all; so it is read from /proc/self/status (Linux 4.7 on), and only
 * where that fails by umask() under a lock. */
static mode_t current_umask(void)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	char buf[4096];
	int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t n = read(fd, buf, sizeof buf - 1);
		close(fd);
		if (n > 0) {
			buf[n] = 0;
			const char *p = strstr(buf, "\nUmask:");
			if (p)
				return (mode_t)strtoul(p + 7, NULL, 8);
		}
	}
	pthread_mutex_lock(&lock);
	mode_t um = umask(0);
	umask(um);
	pthread_mutex_unlock(&lock);
	return um;
}

int od_out_commit(struct od_out *o)
{
	if (o->direct) {
		int rc = close(o->fd) == 0 ? OD_OK : od_error(OD_EIO, "'%s': write failed: %s", o->label, strerror(errno));
		o->fd = -1;
		o->direct = 0;
		return rc;
	}
	if (!o->tmp) {
		o->fd = -1;
		return OD_OK;
	}
	/* umask-respecting permissions, as a plain open(O_CREAT, 0666) would give */
	fchmod(o->fd, 0666 & ~current_umask());
	if (close(o->fd) != 0) {
		int e = errno;
		o->fd = -1;
		od_out_abort(o);
		return od_error(OD_EIO, "'%s': write failed: %s", o->path, strerror(e));
	}
	o->fd = -1;
	if (rename(o->tmp, o->path) != 0) {
		int e = errno;
		od_out_abort(o);
		return od_error(OD_EIO, "'%s': cannot rename into place: %s", o->path, strerror(e));
	}
	free(o->tmp);
	free(o->path);
	o->tmp = o->path = NULL;
	o->label = NULL;
	return OD_OK;
}

void od_out_abort(struct od_out *o)
{
	if (o->direct) {
		close(o->fd);
		o->direct = 0;
	}
	if (o->tmp) {
		if (o->fd >= 0)
			close(o->fd);
		unlink(o->tmp);
	}
	free(o->tmp);
	free(o->path);
	o->tmp = o->path = NULL;
	o->fd = -1;
}

int od_write_all(int fd, const void *buf, size_t n, const char *label)
{
	const char *p = buf;
	while (n) {
		ssize_t k = write(fd, p, n > (1u << 30) ? (1u << 30) : n);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return od_error(OD_EIO, "'%s': write failed: %s", label, strerror(errno));
		}
		p += k;
		n -= (size_t)k;
	}
	return OD_OK;
}

int od_in_open(const char *path)
{
	if (!strcmp(path, "-"))
		return STDIN_FILENO;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return od_error(OD_EIO, "'%s': cannot open: %s", path, strerror(errno));
	struct stat st;
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		close(fd);
		return od_error(OD_EIO, "'%s': is a directory", path);
	}
	return fd;
}

int od_read_exact(int fd, void *buf, size_t n, const char *label, const char *what)
{
	char *p = buf;
	size_t got = 0;
	while (got < n) {
		ssize_t k = read(fd, p + got, n - got > (1u << 30) ? (1u << 30) : n - got);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return od_error(OD_EIO, "'%s': read failed: %s", label, strerror(errno));
		}
		if (k == 0) {
			if (got == 0)
				return 0;
			return od_error(OD_EFORMAT, "'%s': truncated %s (%zu of %zu bytes)", label, what, got, n);
		}
		got += (size_t)k;
	}
	return 1;
}

int od_read_file(const char *path, size_t max, char **data, size_t *len)
{
	int fd = od_in_open(path);
	if (fd < 0)
		return fd;
	const char *label = strcmp(path, "-") ? path : "<stdin>";
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap + 1);
	if (!buf) {
		if (fd != STDIN_FILENO)
			close(fd);
		return od_error(OD_ENOMEM, "out of memory");
	}
	for (;;) {
		if (n == cap) {
			if (cap >= max) {
				free(buf);
				if (fd != STDIN_FILENO)
					close(fd);
				return od_error(OD_EFORMAT, "'%s': larger than %zu bytes", label, max);
			}
			cap = cap * 2 > max ? max : cap * 2;
			char *nb = realloc(buf, cap + 1);
			if (!nb) {
				free(buf);
				if (fd != STDIN_FILENO)
					close(fd);
				return od_error(OD_ENOMEM, "out of memory");
			}
			buf = nb;
		}
		ssize_t k = read(fd, buf + n, cap - n);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			int e = errno;
			free(buf);
			if (fd != STDIN_FILENO)
				close(fd);
			return od_error(OD_EIO, "'%s': read failed: %s", label, strerror(e));
		}
		if (k == 0)
			break;
		n += (size_t)k;
	}
	if (fd != STDIN_FILENO)
		close(fd);
	buf[n] = 0;
	*data = buf;
	*len = n;
	return OD_OK;
}

int od_map_file(struct od_map *m, const char *path)
{
	m->data = NULL;
	m->len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return od_error(errno == ENOENT ? OD_EMODEL : OD_EIO, "'%s': cannot open: %s", path, strerror(errno));
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return od_error(OD_EIO, "'%s': not a regular file", path);
	}
	if (st.st_size == 0) {
		close(fd);
		return OD_OK;
	}
	void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	int e = errno;
	close(fd);
	if (p == MAP_FAILED)
		return od_error(OD_EIO, "'%s': cannot map: %s", path, strerror(e));
	m->data = p;
	m->len = (size_t)st.st_size;
	return OD_OK;
}

void od_unmap(struct od_map *m)
{
	if (m->data)
		munmap(m->data, m->len);
	m->data = NULL;
	m->len = 0;
}

char *od_path_join(const char *dir, const char *name)
{
	size_t a = strlen(dir), b = strlen(name);
	char *p = malloc(a + b + 2);
	if (!p)
		return NULL;
	memcpy(p, dir, a);
	size_t k = a;
	if (a && dir[a - 1] != '/')
		p[k++] = '/';
	memcpy(p + k, name, b + 1);
	return p;
}

int od_is_file(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int od_is_dir(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}
