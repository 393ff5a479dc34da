/* io.c: atomic outputs, groups of outputs, the cleanup registry, exact reads,
 * whole-file reads and maps (see io.h). */
#include "base/io.h"
#include "base/error.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* ---------------------------------------------------------------- the cleanup registry
 *
 * A list of what a dying process must remove (temporary files, folders a group
 * created) or explain (memory maps). A signal handler walks it, so it is
 * guarded by a spin lock that normal code takes only with every signal blocked
 * on its thread: a handler therefore never waits for its own thread, and the
 * critical sections are a few system calls long. Entries are allocated and
 * freed outside the lock. */
enum { REG_FILE, REG_DIR, REG_MAP, REG_TREE };

struct od_temp {
	struct od_temp *next;
	int kind;
	int drop;           /* marked for one sweep (reg_sweep) */
	const char *live;   /* what to remove (REG_FILE: the temporary, or the final name once a group renamed it;
			     * REG_TREE: the folder, or the folder it replaced once renamed into place) */
	const char *addr;   /* REG_MAP: the map */
	size_t len;
	char path[];        /* REG_FILE: temporary NUL final; REG_TREE: the path NUL where a replaced folder goes;
			     * REG_DIR, REG_MAP: the path */
};

static struct od_temp *reg_head;
static atomic_flag reg_busy = ATOMIC_FLAG_INIT;

/* pthread_sigmask() is async-signal-safe, so handlers take the lock this way too;
 * a handler only ever waits for a holder on another thread. */
static void reg_lock(sigset_t *old)
{
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, old);
	while (atomic_flag_test_and_set_explicit(&reg_busy, memory_order_acquire))
		;
}

static void reg_unlock(const sigset_t *old)
{
	atomic_flag_clear_explicit(&reg_busy, memory_order_release);
	pthread_sigmask(SIG_SETMASK, old, NULL);
}

static struct od_temp *reg_new(int kind, const char *a, const char *b)
{
	size_t la = strlen(a) + 1, lb = b ? strlen(b) + 1 : 0;
	struct od_temp *t = malloc(sizeof *t + la + lb);
	if (!t)
		return NULL;
	memset(t, 0, sizeof *t);
	t->kind = kind;
	memcpy(t->path, a, la);
	if (b)
		memcpy(t->path + la, b, lb);
	t->live = t->path;
	return t;
}

/* With the lock held. */
static void reg_push(struct od_temp *t)
{
	t->next = reg_head;
	reg_head = t;
}

/* With the lock held. */
static void reg_remove(struct od_temp *t)
{
	for (struct od_temp **p = &reg_head; *p; p = &(*p)->next)
		if (*p == t) {
			*p = t->next;
			return;
		}
}

/* With the lock held: remove every entry marked drop, in one pass (a group of
 * thousands of files is forgotten in linear time). */
static void reg_sweep(void)
{
	for (struct od_temp **p = &reg_head; *p;)
		if ((*p)->drop)
			*p = (*p)->next;
		else
			p = &(*p)->next;
}

static void reg_forget(struct od_temp *t)
{
	if (!t)
		return;
	sigset_t old;
	reg_lock(&old);
	reg_remove(t);
	reg_unlock(&old);
	free(t);
}

/* Remove name (relative to dirfd), a file, a link or a folder with everything
 * in it, with system calls only: async-signal-safe, so a signal handler can
 * call it. Links are removed, never followed; folders nest at most 32 deep. */
static void remove_tree_at(int dirfd, const char *name, int depth)
{
	if (unlinkat(dirfd, name, 0) == 0 || (errno != EISDIR && errno != EPERM) || depth > 32)
		return;
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0) {
		/* entries removed while the folder is read may hide others from the
		 * same read: read again from the start until nothing is left */
		for (int pass = 0, removed = 1; removed && pass < 64; pass++) {
			removed = 0;
			lseek(fd, 0, SEEK_SET);
			char buf[2048] __attribute__((aligned(8)));
			long n;
			while ((n = syscall(SYS_getdents64, fd, buf, sizeof buf)) > 0)
				for (long off = 0; off < n;) {
					/* struct linux_dirent64: ino, off, reclen, type, name */
					unsigned short reclen;
					memcpy(&reclen, buf + off + 16, sizeof reclen);
					const char *e = buf + off + 19;
					off += reclen;
					if (e[0] == '.' && (!e[1] || (e[1] == '.' && !e[2])))
						continue;
					remove_tree_at(fd, e, depth + 1);
					removed = 1;
				}
		}
		close(fd);
	}
	unlinkat(dirfd, name, AT_REMOVEDIR);
}

void od_out_remove_all(void)
{
	/* Async-signal-safe: no allocation, no stdio, no locks that a handler could
	 * be waiting for on its own thread. Newest first: a group's files before the
	 * folders that hold them, inner folders before outer ones. */
	int saved = errno;
	sigset_t old;
	reg_lock(&old);
	struct od_temp **p = &reg_head;
	while (*p) {
		struct od_temp *t = *p;
		if (t->kind == REG_MAP) {
			p = &t->next;
			continue;
		}
		if (t->kind == REG_FILE)
			unlink(t->live);
		else if (t->kind == REG_TREE)
			remove_tree_at(AT_FDCWD, t->live, 0);
		else
			rmdir(t->live);
		*p = t->next; /* forgotten, not freed: free() is not async-signal-safe */
	}
	reg_unlock(&old);
	errno = saved;
}

const char *od_map_owner(const void *addr, char *buf, size_t size)
{
	const char *found = NULL;
	if (!size)
		return NULL;
	sigset_t old;
	reg_lock(&old);
	for (struct od_temp *t = reg_head; t; t = t->next)
		if (t->kind == REG_MAP && (const char *)addr >= t->addr && (const char *)addr < t->addr + t->len) {
			size_t n = strlen(t->path);
			if (n >= size)
				n = size - 1;
			memcpy(buf, t->path, n);
			buf[n] = 0;
			found = buf;
			break;
		}
	reg_unlock(&old);
	return found;
}

/* ---------------------------------------------------------------- outputs */

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
	/* The registry entry is made before the file, and the file is created and
	 * registered with signals blocked: there is no moment when a signal could
	 * leave an unregistered temporary behind. */
	struct od_temp *t = reg_new(REG_FILE, o->tmp, path);
	if (!t) {
		od_out_abort(o);
		return od_error(OD_ENOMEM, "out of memory");
	}
	sigset_t old;
	reg_lock(&old);
	o->fd = mkstemp(o->tmp);
	int e = errno;
	if (o->fd >= 0) {
		memcpy(t->path, o->tmp, strlen(o->tmp)); /* the name mkstemp chose */
		reg_push(t);
		o->reg = t;
	}
	reg_unlock(&old);
	if (o->fd < 0) {
		free(t);
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

/* Give a finished temporary its final permissions and close it. */
static int close_temporary(struct od_out *o)
{
	if (o->fd < 0)
		return OD_OK;
	/* umask-respecting permissions, as a plain open(O_CREAT, 0666) would give */
	fchmod(o->fd, 0666 & ~current_umask());
	if (close(o->fd) != 0) {
		int e = errno;
		o->fd = -1;
		int rc = od_error(OD_EIO, "'%s': write failed: %s", o->path, strerror(e));
		od_out_abort(o);
		return rc;
	}
	o->fd = -1;
	return OD_OK;
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
	int rc = close_temporary(o);
	if (rc)
		return rc;
	sigset_t old;
	reg_lock(&old);
	int e = rename(o->tmp, o->path) != 0 ? errno : 0;
	if (!e && o->reg)
		reg_remove(o->reg);
	reg_unlock(&old);
	if (e) {
		od_out_abort(o);
		return od_error(OD_EIO, "'%s': cannot rename into place: %s", o->path, strerror(e));
	}
	free(o->reg);
	o->reg = NULL;
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
		sigset_t old;
		reg_lock(&old);
		unlink(o->tmp);
		if (o->reg)
			reg_remove(o->reg);
		reg_unlock(&old);
	}
	free(o->reg);
	o->reg = NULL;
	free(o->tmp);
	free(o->path);
	o->tmp = o->path = NULL;
	o->fd = -1;
}

/* ---------------------------------------------------------------- groups */

void od_group_init(struct od_out_group *g)
{
	memset(g, 0, sizeof *g);
}

int od_group_open(struct od_out_group *g, const char *path, struct od_out **out)
{
	if (g->n == g->cap) {
		int cap = g->cap ? 2 * g->cap : 16;
		struct od_out **nv = realloc(g->v, (size_t)cap * sizeof *nv);
		if (!nv)
			return od_error(OD_ENOMEM, "out of memory");
		g->v = nv;
		g->cap = cap;
	}
	struct od_out *o = malloc(sizeof *o);
	if (!o)
		return od_error(OD_ENOMEM, "out of memory");
	int rc = od_out_open(o, path);
	if (rc) {
		free(o);
		return rc;
	}
	g->v[g->n++] = o;
	*out = o;
	return OD_OK;
}

int od_group_finish(struct od_out_group *g, struct od_out *o)
{
	(void)g;
	if (!o->tmp) /* standard output, or a device written in place: nothing to keep back */
		return OD_OK;
	return close_temporary(o);
}

int od_group_mkdir(struct od_out_group *g, const char *path)
{
	if (od_is_dir(path))
		return OD_OK;
	if (g->n_dirs == g->cap_dirs) {
		int cap = g->cap_dirs ? 2 * g->cap_dirs : 8;
		struct od_temp **nd = realloc(g->dirs, (size_t)cap * sizeof *nd);
		if (!nd)
			return od_error(OD_ENOMEM, "out of memory");
		g->dirs = nd;
		g->cap_dirs = cap;
	}
	struct od_temp *t = reg_new(REG_DIR, path, NULL);
	if (!t)
		return od_error(OD_ENOMEM, "out of memory");
	sigset_t old;
	reg_lock(&old);
	int e = mkdir(path, 0777) != 0 ? errno : 0;
	if (!e)
		reg_push(t);
	reg_unlock(&old);
	if (e) {
		free(t);
		return od_error(OD_EIO, "'%s': cannot create folder: %s", path, strerror(e));
	}
	g->dirs[g->n_dirs++] = t;
	return OD_OK;
}

static void group_free(struct od_out_group *g)
{
	for (int i = 0; i < g->n; i++)
		free(g->v[i]);
	free(g->v);
	for (int i = 0; i < g->n_dirs; i++)
		free(g->dirs[i]);
	free(g->dirs);
	memset(g, 0, sizeof *g);
}

int od_group_commit(struct od_out_group *g)
{
	int rc = OD_OK, renamed = 0;
	for (int i = 0; !rc && i < g->n; i++)
		if (g->v[i]->direct || !g->v[i]->tmp)
			rc = od_out_commit(g->v[i]); /* stdout, devices: flushed as they are */
		else
			rc = close_temporary(g->v[i]);
	/* Rename each member; its registry entry then names the final file, so that
	 * a signal in the middle removes what was already renamed too. */
	for (; !rc && renamed < g->n; renamed++) {
		struct od_out *o = g->v[renamed];
		if (!o->tmp)
			continue;
		sigset_t old;
		reg_lock(&old);
		int e = rename(o->tmp, o->path) != 0 ? errno : 0;
		if (!e)
			o->reg->live = o->reg->path + strlen(o->reg->path) + 1;
		reg_unlock(&old);
		if (e)
			rc = od_error(OD_EIO, "'%s': cannot rename into place: %s", o->path, strerror(e));
	}
	if (rc) {
		/* take back what was renamed, remove the rest */
		for (int i = 0; i < renamed; i++) {
			struct od_out *o = g->v[i];
			if (!o->tmp)
				continue;
			sigset_t old;
			reg_lock(&old);
			unlink(o->path);
			reg_remove(o->reg);
			reg_unlock(&old);
			free(o->reg);
			o->reg = NULL;
			free(o->tmp);
			o->tmp = NULL;
		}
		od_group_abort(g);
		return rc;
	}
	sigset_t old;
	reg_lock(&old);
	for (int i = 0; i < g->n; i++)
		if (g->v[i]->reg)
			g->v[i]->reg->drop = 1;
	for (int i = 0; i < g->n_dirs; i++)
		g->dirs[i]->drop = 1;
	reg_sweep();
	reg_unlock(&old);
	for (int i = 0; i < g->n; i++) {
		struct od_out *o = g->v[i];
		free(o->reg);
		free(o->tmp);
		free(o->path);
	}
	group_free(g);
	return OD_OK;
}

int od_group_take(struct od_out_group *g, struct od_out_group *from)
{
	if (g->n + from->n > g->cap) {
		int cap = g->cap ? g->cap : 16;
		while (cap < g->n + from->n)
			cap *= 2;
		struct od_out **nv = realloc(g->v, (size_t)cap * sizeof *nv);
		if (!nv)
			return od_error(OD_ENOMEM, "out of memory");
		g->v = nv;
		g->cap = cap;
	}
	if (g->n_dirs + from->n_dirs > g->cap_dirs) {
		int cap = g->cap_dirs ? g->cap_dirs : 8;
		while (cap < g->n_dirs + from->n_dirs)
			cap *= 2;
		struct od_temp **nd = realloc(g->dirs, (size_t)cap * sizeof *nd);
		if (!nd)
			return od_error(OD_ENOMEM, "out of memory");
		g->dirs = nd;
		g->cap_dirs = cap;
	}
	if (from->n)
		memcpy(g->v + g->n, from->v, (size_t)from->n * sizeof *g->v);
	if (from->n_dirs)
		memcpy(g->dirs + g->n_dirs, from->dirs, (size_t)from->n_dirs * sizeof *g->dirs);
	g->n += from->n;
	g->n_dirs += from->n_dirs;
	free(from->v);
	free(from->dirs);
	memset(from, 0, sizeof *from);
	return OD_OK;
}

void od_group_abort(struct od_out_group *g)
{
	for (int i = g->n - 1; i >= 0; i--)
		od_out_abort(g->v[i]);
	for (int i = g->n_dirs - 1; i >= 0; i--) {
		sigset_t old;
		reg_lock(&old);
		rmdir(g->dirs[i]->path);
		reg_remove(g->dirs[i]);
		reg_unlock(&old);
	}
	group_free(g);
}

/* ---------------------------------------------------------------- folders and trees */

/* "DIR/.NAME.tmp-XXXXXX" (for mkdtemp) beside path, or NULL on OOM. */
static char *temp_name_beside(const char *path, const char *what)
{
	size_t n = strlen(path);
	while (n > 1 && path[n - 1] == '/')
		n--;
	size_t b = n;
	while (b > 0 && path[b - 1] != '/')
		b--;
	size_t size = n + strlen(what) + 16;
	char *t = malloc(size);
	if (t)
		snprintf(t, size, "%.*s.%.*s.%s-XXXXXX", (int)b, path, (int)(n - b), path + b, what);
	return t;
}

int od_dir_open(struct od_out_dir *d, const char *path)
{
	memset(d, 0, sizeof *d);
	d->path = strdup(path);
	d->tmp = temp_name_beside(path, "tmp");
	char *old = temp_name_beside(path, "old");
	struct od_temp *t = d->tmp && old ? reg_new(REG_TREE, d->tmp, old) : NULL;
	free(old);
	if (!d->path || !t) {
		free(t);
		od_dir_abort(d);
		return od_error(OD_ENOMEM, "out of memory");
	}
	sigset_t mask;
	reg_lock(&mask);
	char *made = mkdtemp(d->tmp);
	int e = errno;
	if (made) {
		memcpy(t->path, d->tmp, strlen(d->tmp)); /* the name mkdtemp chose */
		reg_push(t);
		d->reg = t;
	}
	reg_unlock(&mask);
	/* mkdtemp's folder is private (0700); the folder gets the permissions
	 * mkdir(path, 0777) would give it */
	if (made)
		chmod(d->tmp, 0777 & ~current_umask());
	if (!made) {
		free(t);
		int rc = od_error(OD_EIO, "'%s': cannot create: %s", d->tmp, strerror(e));
		free(d->tmp);
		d->tmp = NULL;
		od_dir_abort(d);
		return rc;
	}
	return OD_OK;
}

int od_dir_commit(struct od_out_dir *d)
{
	struct od_temp *t = d->reg;
	char *old = t->path + strlen(t->path) + 1;
	/* the old name must be free: it is a temporary name of the same pattern */
	memcpy(old + strlen(old) - 6, t->path + strlen(t->path) - 6, 6);
	struct stat st;
	int rc = OD_OK, had;
	sigset_t mask;
	reg_lock(&mask);
	had = lstat(d->path, &st) == 0;
	if (had && rename(d->path, old) != 0) {
		rc = od_error(OD_EIO, "'%s': cannot move aside: %s", d->path, strerror(errno));
	} else if (rename(d->tmp, d->path) != 0) {
		rc = od_error(OD_EIO, "'%s': cannot rename into place: %s", d->path, strerror(errno));
		if (had)
			rename(old, d->path);
	} else {
		/* from now on the entry stands for the folder that was replaced */
		t->live = old;
	}
	reg_unlock(&mask);
	if (rc) {
		od_dir_abort(d);
		return rc;
	}
	if (had)
		remove_tree_at(AT_FDCWD, old, 0);
	reg_forget(t);
	d->reg = NULL;
	free(d->tmp);
	free(d->path);
	d->tmp = d->path = NULL;
	return OD_OK;
}

void od_dir_abort(struct od_out_dir *d)
{
	if (d->reg) {
		remove_tree_at(AT_FDCWD, d->reg->live, 0);
		reg_forget(d->reg);
	}
	free(d->tmp);
	free(d->path);
	memset(d, 0, sizeof *d);
}

struct od_temp *od_tree_register(const char *path)
{
	struct od_temp *t = reg_new(REG_TREE, path, NULL);
	if (!t)
		return NULL;
	sigset_t mask;
	reg_lock(&mask);
	reg_push(t);
	reg_unlock(&mask);
	return t;
}

void od_tree_keep(struct od_temp *t)
{
	reg_forget(t);
}

void od_tree_remove(struct od_temp *t)
{
	if (!t)
		return;
	remove_tree_at(AT_FDCWD, t->live, 0);
	reg_forget(t);
}

int od_tree_discard(const char *path)
{
	struct stat st;
	if (lstat(path, &st) != 0)
		return errno == ENOENT ? OD_OK : od_error(OD_EIO, "'%s': %s", path, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return unlink(path) == 0 ? OD_OK : od_error(OD_EIO, "'%s': cannot remove: %s", path, strerror(errno));
	char *aside = temp_name_beside(path, "old");
	struct od_temp *t = aside ? reg_new(REG_TREE, aside, NULL) : NULL;
	free(aside);
	if (!t)
		return od_error(OD_ENOMEM, "out of memory");
	/* the folder leaves its name at once (onto an empty folder of a fresh
	 * name), and goes from there, registered, however long that takes */
	int e = 0;
	sigset_t mask;
	reg_lock(&mask);
	if (!mkdtemp(t->path))
		e = errno;
	else if (rename(path, t->path) != 0) {
		e = errno;
		rmdir(t->path);
	} else
		reg_push(t);
	reg_unlock(&mask);
	if (e) {
		free(t);
		return od_error(OD_EIO, "'%s': cannot remove: %s", path, strerror(e));
	}
	remove_tree_at(AT_FDCWD, t->path, 0);
	reg_forget(t);
	return OD_OK;
}

int od_symlink_replace(const char *target, const char *path)
{
	char *tmp = temp_name_beside(path, "tmp");
	if (!tmp)
		return od_error(OD_ENOMEM, "out of memory");
	snprintf(tmp + strlen(tmp) - 6, 7, "%06lx", (unsigned long)getpid() & 0xffffff);
	/* made and renamed with every signal blocked: no moment leaves the
	 * temporary link behind */
	int e = 0;
	sigset_t mask;
	reg_lock(&mask);
	unlink(tmp);
	if (symlink(target, tmp) != 0)
		e = errno;
	else if (rename(tmp, path) != 0) {
		e = errno;
		unlink(tmp);
	}
	reg_unlock(&mask);
	free(tmp);
	return e ? od_error(OD_EIO, "'%s': cannot replace with a link: %s", path, strerror(e)) : OD_OK;
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
	m->reg = NULL;
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
	struct od_temp *t = reg_new(REG_MAP, path, NULL);
	if (!t) {
		close(fd);
		return od_error(OD_ENOMEM, "out of memory");
	}
	void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	int e = errno;
	close(fd);
	if (p == MAP_FAILED) {
		free(t);
		return od_error(OD_EIO, "'%s': cannot map: %s", path, strerror(e));
	}
	/* registered, so that a SIGBUS from this map (the file shrank) can name it */
	t->addr = p;
	t->len = (size_t)st.st_size;
	sigset_t old;
	reg_lock(&old);
	reg_push(t);
	reg_unlock(&old);
	m->data = p;
	m->len = (size_t)st.st_size;
	m->reg = t;
	return OD_OK;
}

void od_unmap(struct od_map *m)
{
	reg_forget(m->reg);
	m->reg = NULL;
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
