/*
 * io.h: files and pipes the way every od tool uses them.
 *
 * Outputs are never left half-written: od_out_open() on a path creates a
 * temporary file beside it (same directory, so rename is atomic), and only
 * od_out_commit() renames it into place. od_out_abort() removes it. The path
 * "-" means standard output, where nothing can be taken back; so is an
 * existing device or FIFO such as /dev/null, which is written in place.
 *
 * Inputs: "-" means standard input. od_read_exact() tells a clean end of file
 * (before the first byte) from a truncation (after some bytes).
 */
#ifndef OD_IO_H
#define OD_IO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct od_out {
	int fd;
	char *path;     /* final path, NULL for stdout */
	char *tmp;      /* temporary path, NULL for stdout */
	const char *label; /* for messages: the path or "<stdout>" */
	int direct;     /* an existing non-regular file (/dev/null, a FIFO): written in place */
};

/* Open an output ("-" for stdout). */
int od_out_open(struct od_out *o, const char *path);
/* Flush and rename into place (or just flush stdout). Closes. */
int od_out_commit(struct od_out *o);
/* Remove the temporary file. Safe to call after commit (does nothing). */
void od_out_abort(struct od_out *o);
/* Write all of buf; an error names o->label. */
int od_out_write(struct od_out *o, const void *buf, size_t n);

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
};
int od_map_file(struct od_map *m, const char *path);
void od_unmap(struct od_map *m);

/* Join a directory and a name into a malloc'd path. NULL on OOM. */
char *od_path_join(const char *dir, const char *name);
/* True if path names an existing regular file or directory. */
int od_is_file(const char *path);
int od_is_dir(const char *path);

#endif
