/*
 * io.h: files and pipes the way every od tool uses them.
 *
 * Outputs are never left half-written: od_out_open() on a path creates a
 * temporary file beside it (same directory, so rename is atomic), and only
 * od_out_commit() renames it into place. od_out_abort() removes it. The path
 * "-" means standard output, where nothing can be taken back; so is an
 * existing device or FIFO such as /dev/null, which is written in place.
 *
 * A run that writes several files (a picture per frame, a model folder, frames
 * and cameras) writes them as one group (struct od_out_group): every member is
 * a temporary until od_group_commit() renames them all, and a failure anywhere
 * removes them all, with the folders the group created.
 *
 * Every temporary not yet committed is in a process-wide registry, so that a
 * fatal signal or an early exit can remove it: od_out_remove_all() is
 * async-signal-safe (bin/tool.c calls it from its signal handlers and at
 * exit). Memory maps are registered too, so that a SIGBUS from a mapped file
 * that shrank can name the file (od_map_owner()).
 *
 * Inputs: "-" means standard input. od_read_exact() tells a clean end of file
 * (before the first byte) from a truncation (after some bytes).
 */
#ifndef OD_IO_H
#define OD_IO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct od_temp;

struct od_out {
	int fd;
	char *path;     /* final path, NULL for stdout */
	char *tmp;      /* temporary path, NULL for stdout */
	const char *label; /* for messages: the path or "<stdout>" */
	int direct;     /* an existing non-regular file (/dev/null, a FIFO): written in place */
	struct od_temp *reg; /* the temporary's entry in the cleanup registry */
};

/* Open an output ("-" for stdout). */
int od_out_open(struct od_out *o, const char *path);
/* Flush and rename into place (or just flush stdout). Closes. */
int od_out_commit(struct od_out *o);
/* Remove the temporary file. Safe to call after commit (does nothing). */
void od_out_abort(struct od_out *o);
/* Write all of buf; an error names o->label. */
int od_out_write(struct od_out *o, const void *buf, size_t n);

/* Remove every registered temporary (files not yet committed, and the folders
 * of groups not yet committed) and forget them. Async-signal-safe: only
 * unlink(), rmdir() and atomic operations; safe to call more than once. */
void od_out_remove_all(void);

/* ---- all-or-nothing groups of outputs */
struct od_out_group {
	struct od_out **v;       /* members, in the order opened */
	int n, cap;
	struct od_temp **dirs;   /* folders the group created, in the order created */
	int n_dirs, cap_dirs;
};
void od_group_init(struct od_out_group *g);
/* Open one more member, as od_out_open() does; *o stays valid until the group
 * is committed or aborted. "-" (standard output) and devices are written in
 * place, as with od_out_open(). */
int od_group_open(struct od_out_group *g, const char *path, struct od_out **o);
/* The member's data is complete: close its file (it stays a temporary until
 * od_group_commit). Closing early keeps the number of open descriptors down
 * in runs of many files. */
int od_group_finish(struct od_out_group *g, struct od_out *o);
/* Create the folder path unless it exists. od_group_abort() removes the
 * folders the group created (when they are empty again). */
int od_group_mkdir(struct od_out_group *g, const char *path);
/* Finish every member and rename each into place. When a rename fails, the
 * members already renamed are removed again and the rest aborted: all files
 * or none. The group is empty afterwards. */
int od_group_commit(struct od_out_group *g);
/* Move every member and folder of from into g; from is empty afterwards. On
 * failure (OD_ENOMEM) both are left as they were. Groups filled on several
 * threads, one each, become one this way. */
int od_group_take(struct od_out_group *g, struct od_out_group *from);
/* Remove every member's temporary and the folders the group created. */
void od_group_abort(struct od_out_group *g);

/* ---- folders written whole, and folder trees a run may leave */

/* A folder filled under a temporary name beside path (".NAME.tmp-XXXXXX",
 * d->tmp) and renamed into place whole by od_dir_commit: a folder that already
 * has the name steps aside first and is removed once the new one is in place.
 * Until then the temporary folder, with everything put in it, is in the
 * cleanup registry: a failure (od_dir_abort), a fatal signal or an early exit
 * removes it. Files in it may be written with od_out_open() or directly. */
struct od_out_dir {
	char *path;
	char *tmp;
	struct od_temp *reg;
};
int od_dir_open(struct od_out_dir *d, const char *path);
int od_dir_commit(struct od_out_dir *d);
void od_dir_abort(struct od_out_dir *d);

/* A file or folder tree a run made in place and that should not outlive the
 * run unless kept (a training run's folder until its first checkpoint): a
 * fatal signal or an early exit removes it with everything in it. Returns the
 * registry entry, or NULL when out of memory. od_tree_keep() forgets it (it
 * stays); od_tree_remove() removes it now. */
struct od_temp *od_tree_register(const char *path);
void od_tree_keep(struct od_temp *t);
void od_tree_remove(struct od_temp *t);
/* Remove a folder tree (or a file) so that it is never seen half removed: it
 * is renamed aside first, and removed from there. */
int od_tree_discard(const char *path);
/* Make path a symbolic link to target, replacing what is there in one
 * rename; no temporary link outlives a signal. */
int od_symlink_replace(const char *target, const char *path);

/* Write all of buf to fd; label names it in errors. */
int od_write_all(int fd, const void *buf, size_t n, const char *label);

/* Open an input for reading ("-" for stdin); returns fd or a negative status. */
int od_in_open(const char *path);
/* Read exactly n bytes. Returns 1 when done, 0 on end of file before any byte,
 * or a negative status (OD_EFORMAT "truncated" after a partial read, OD_EIO). */
int od_read_exact(int fd, void *buf, size_t n, const char *label, const char *what);

/* Read a whole file ("-": stdin) into a malloc'd buffer, NUL-terminated (the
 * terminator is not counted in *len). Files over max bytes are refused. */
int od_read_file(const char *path, size_t max, char **data, size_t *len);

/* A read-only memory map of a whole file. */
struct od_map {
	void *data;
	size_t len;
	struct od_temp *reg;
};
int od_map_file(struct od_map *m, const char *path);
void od_unmap(struct od_map *m);
/* The file mapped at addr (for a SIGBUS handler: the file changed under its
 * map), copied into buf; NULL when addr is in no map od_map_file() made.
 * Async-signal-safe. */
const char *od_map_owner(const void *addr, char *buf, size_t size);

/* Join a directory and a name into a malloc'd path. NULL on OOM. */
char *od_path_join(const char *dir, const char *name);
/* True if path names an existing regular file or directory. */
int od_is_file(const char *path);
int od_is_dir(const char *path);

#endif
