/* frame.c: the od frame stream reader and writer (see frame.h, od-frame(5)). */
#include "formats/frame.h"
#include "base/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <errno.h>

static const char *const kind_names[] = { NULL, "latent", "rays", "text", "noise", "image" };
static const char *const role_names[] = { "none", "condition", "target", "negative" };

const char *od_kind_name(int kind)
{
	return kind > 0 && kind < (int)(sizeof kind_names / sizeof *kind_names) ? kind_names[kind] : "unknown";
}

const char *od_kind_a(int kind)
{
	static const char *const a[] = { NULL, "a latent", "a rays", "a text", "a noise", "an image" };
	return kind > 0 && kind < (int)(sizeof a / sizeof *a) ? a[kind] : "an unknown";
}

int od_kind_parse(const char *name)
{
	for (int i = 1; i < (int)(sizeof kind_names / sizeof *kind_names); i++)
		if (!strcmp(name, kind_names[i]))
			return i;
	return -1;
}

const char *od_role_name(int role)
{
	return role >= 0 && role < (int)(sizeof role_names / sizeof *role_names) ? role_names[role] : "unknown";
}

int od_role_parse(const char *name)
{
	for (int i = 0; i < (int)(sizeof role_names / sizeof *role_names); i++)
		if (!strcmp(name, role_names[i]))
			return i;
	return -1;
}

/* The stream's dtype codes (frame.h) are not the in-memory enum. */
static int dtype_to_code(enum od_dtype t)
{
	return t == OD_F32 ? 1 : t == OD_F16 ? 2 : t == OD_BF16 ? 3 : 0;
}

static int code_to_dtype(int c, enum od_dtype *t)
{
	switch (c) {
	case 1: *t = OD_F32; return 0;
	case 2: *t = OD_F16; return 0;
	case 3: *t = OD_BF16; return 0;
	default: return -1;
	}
}

static int check_shape(int ndim, const int64_t *shape, enum od_dtype dtype, uint64_t *bytes)
{
	if (ndim < 1 || ndim > OD_FRAME_MAX_DIMS)
		return od_error(OD_EFORMAT, "%d dimensions (1 to %d allowed)", ndim, OD_FRAME_MAX_DIMS);
	uint64_t n = 1;
	for (int i = 0; i < ndim; i++) {
		if (shape[i] < 1 || shape[i] > OD_FRAME_MAX_DIM)
			return od_error(OD_EFORMAT, "dimension %d is %lld (1 to %u allowed)", i, (long long)shape[i],
					OD_FRAME_MAX_DIM);
		n *= (uint64_t)shape[i];
		if (n > ((uint64_t)1 << 40))
			return od_error(OD_EFORMAT, "shape has too many elements");
	}
	*bytes = n * od_dtype_size(dtype);
	return OD_OK;
}

int od_frame_init(struct od_frame *f, enum od_kind kind, enum od_role role, enum od_dtype dtype, int ndim,
		  const int64_t *shape, int alloc_data)
{
	memset(f, 0, sizeof *f);
	if (!dtype_to_code(dtype))
		return od_error(OD_EINVAL, "frame dtype %s is not F32, F16 or BF16", od_dtype_name(dtype));
	uint64_t bytes;
	int rc = check_shape(ndim, shape, dtype, &bytes);
	if (rc)
		return rc;
	f->kind = kind;
	f->role = role;
	f->dtype = dtype;
	f->ndim = ndim;
	memcpy(f->shape, shape, (size_t)ndim * sizeof *shape);
	if (alloc_data) {
		f->data = calloc(1, (size_t)bytes);
		if (!f->data)
			return od_error(OD_ENOMEM, "out of memory for a %llu-byte frame", (unsigned long long)bytes);
		f->data_len = (size_t)bytes;
	}
	return OD_OK;
}

void od_frame_free(struct od_frame *f)
{
	free(f->data);
	free(f->mask);
	for (int i = 0; i < f->n_meta; i++) {
		free(f->meta[i].key);
		free(f->meta[i].value);
	}
	free(f->meta);
	memset(f, 0, sizeof *f);
}

int od_frame_copy(struct od_frame *dst, const struct od_frame *src)
{
	int rc = od_frame_init(dst, src->kind, src->role, src->dtype, src->ndim, src->shape, src->data != NULL);
	if (rc)
		return rc;
	if (src->data)
		memcpy(dst->data, src->data, src->data_len);
	if (src->mask && (rc = od_frame_set_mask(dst, src->mask)))
		goto fail;
	for (int i = 0; i < src->n_meta; i++)
		if ((rc = od_frame_set(dst, src->meta[i].key, src->meta[i].value)))
			goto fail;
	return OD_OK;
fail:
	od_frame_free(dst);
	return rc;
}

int64_t od_frame_numel(const struct od_frame *f)
{
	int64_t n = 1;
	for (int i = 0; i < f->ndim; i++)
		n *= f->shape[i];
	return n;
}

int od_utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;
	while (i < n) {
		unsigned c = p[i];
		size_t len;
		unsigned min;
		if (c < 0x80) {
			i++;
			continue;
		} else if ((c & 0xe0) == 0xc0) {
			len = 2, min = 0x80, c &= 0x1f;
		} else if ((c & 0xf0) == 0xe0) {
			len = 3, min = 0x800, c &= 0x0f;
		} else if ((c & 0xf8) == 0xf0) {
			len = 4, min = 0x10000, c &= 0x07;
		} else {
			return 0;
		}
		if (i + len > n)
			return 0;
		for (size_t k = 1; k < len; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return 0;
			c = (c << 6) | (p[i + k] & 0x3f);
		}
		if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
			return 0;
		i += len;
	}
	return 1;
}

/* Copy s with every byte that does not start a valid UTF-8 sequence replaced by
 * U+FFFD. */
static char *utf8_sanitize(const char *s)
{
	size_t n = strlen(s);
	char *out = malloc(3 * n + 1), *o = out;
	if (!out)
		return NULL;
	size_t i = 0;
	while (i < n) {
		unsigned char c = (unsigned char)s[i];
		size_t len = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
		if (len && i + len <= n && od_utf8_valid(s + i, len)) {
			memcpy(o, s + i, len);
			o += len;
			i += len;
		} else {
			memcpy(o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
		}
	}
	*o = 0;
	return out;
}

static int key_valid(const char *k, size_t n)
{
	if (!n)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = k[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
		      c == '.' || c == '-'))
			return 0;
	}
	return 1;
}

int od_frame_set(struct od_frame *f, const char *key, const char *value)
{
	if (!key_valid(key, strlen(key)))
		return od_error(OD_EINVAL, "metadata key '%s' is not [A-Za-z0-9_.-]+", key);
	char *v = od_utf8_valid(value, strlen(value)) ? strdup(value) : utf8_sanitize(value);
	if (!v)
		return od_error(OD_ENOMEM, "out of memory");
	for (int i = 0; i < f->n_meta; i++)
		if (!strcmp(f->meta[i].key, key)) {
			free(f->meta[i].value);
			f->meta[i].value = v;
			return OD_OK;
		}
	struct od_meta_entry *nm = realloc(f->meta, (size_t)(f->n_meta + 1) * sizeof *nm);
	char *k = strdup(key);
	if (!nm || !k) {
		if (nm)
			f->meta = nm;
		free(v);
		free(k);
		return od_error(OD_ENOMEM, "out of memory");
	}
	f->meta = nm;
	f->meta[f->n_meta].key = k;
	f->meta[f->n_meta].value = v;
	f->n_meta++;
	return OD_OK;
}

int od_frame_setf(struct od_frame *f, const char *key, const char *fmt, ...)
{
	char buf[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	return od_frame_set(f, key, buf);
}

const char *od_frame_get(const struct od_frame *f, const char *key)
{
	for (int i = 0; i < f->n_meta; i++)
		if (!strcmp(f->meta[i].key, key))
			return f->meta[i].value;
	return NULL;
}

void od_frame_unset(struct od_frame *f, const char *key)
{
	for (int i = 0; i < f->n_meta; i++)
		if (!strcmp(f->meta[i].key, key)) {
			free(f->meta[i].key);
			free(f->meta[i].value);
			memmove(&f->meta[i], &f->meta[i + 1], (size_t)(f->n_meta - i - 1) * sizeof *f->meta);
			f->n_meta--;
			return;
		}
}

int od_frame_to_f32(const struct od_frame *f, float *out)
{
	if (!f->data)
		return od_error(OD_EFORMAT, "%s frame is a placeholder without data", od_kind_name(f->kind));
	od_to_f32(out, f->data, f->dtype, (size_t)od_frame_numel(f));
	return OD_OK;
}

int od_frame_from_f32(struct od_frame *f, const float *in)
{
	size_t n = (size_t)od_frame_numel(f), bytes = n * od_dtype_size(f->dtype);
	if (!f->data) {
		f->data = malloc(bytes ? bytes : 1);
		if (!f->data)
			return od_error(OD_ENOMEM, "out of memory");
		f->data_len = bytes;
	}
	od_from_f32(f->data, in, f->dtype, n);
	return OD_OK;
}

int od_frame_set_mask(struct od_frame *f, const uint8_t *mask)
{
	size_t n = (size_t)f->shape[0];
	uint8_t *m = malloc(n);
	if (!m)
		return od_error(OD_ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++)
		m[i] = mask[i] ? 1 : 0;
	free(f->mask);
	f->mask = m;
	f->mask_len = n;
	return OD_OK;
}

char *od_frame_describe(const struct od_frame *f, char *buf, size_t size)
{
	char shape[160];
	snprintf(buf, size, "%s %s %s %s%s", od_kind_name(f->kind), od_dtype_name(f->dtype),
		 od_shape_str(shape, sizeof shape, f->ndim, f->shape), od_role_name(f->role),
		 f->data ? "" : " placeholder");
	/* dtype names are upper case in safetensors; lower-case them for people */
	char *d = strchr(buf, ' ');
	if (d)
		for (d++; *d && *d != ' '; d++)
			if (*d >= 'A' && *d <= 'Z')
				*d = (char)(*d - 'A' + 'a');
	return buf;
}

/* ------------------------------------------------------------------ reading */

static void put16(unsigned char *p, unsigned v) { p[0] = (unsigned char)v; p[1] = (unsigned char)(v >> 8); }
static void put32(unsigned char *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i)); }
static void put64(unsigned char *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i)); }
static unsigned get16(const unsigned char *p) { return (unsigned)p[0] | (unsigned)p[1] << 8; }
static uint32_t get32(const unsigned char *p) { uint32_t v = 0; for (int i = 3; i >= 0; i--) v = v << 8 | p[i]; return v; }
static uint64_t get64(const unsigned char *p) { uint64_t v = 0; for (int i = 7; i >= 0; i--) v = v << 8 | p[i]; return v; }

int od_reader_open(struct od_reader *r, const char *path)
{
	memset(r, 0, sizeof *r);
	int fd = od_in_open(path);
	if (fd < 0)
		return fd;
	od_reader_open_fd(r, fd, strcmp(path, "-") ? path : "<stdin>");
	if (!r->label) {
		od_reader_close(r);
		return od_error(OD_ENOMEM, "out of memory");
	}
	return OD_OK;
}

void od_reader_open_fd(struct od_reader *r, int fd, const char *label)
{
	memset(r, 0, sizeof *r);
	r->fd = fd;
	r->label = strdup(label);
	r->max_bytes = OD_FRAME_DEFAULT_MAX_BYTES;
}

void od_reader_open_mem(struct od_reader *r, const void *buf, size_t len, const char *label)
{
	memset(r, 0, sizeof *r);
	r->fd = -1;
	r->mem = buf;
	r->mem_len = len;
	r->label = strdup(label);
	r->max_bytes = OD_FRAME_DEFAULT_MAX_BYTES;
}

void od_reader_close(struct od_reader *r)
{
	if (r->fd > STDIN_FILENO)
		close(r->fd);
	free(r->label);
	memset(r, 0, sizeof *r);
	r->fd = -1;
}

static const char *rlabel(const struct od_reader *r)
{
	return r->label ? r->label : "<stream>";
}

/* 1 = all n bytes, 0 = clean EOF before any, < 0 = error (truncation). */
static int rd(struct od_reader *r, void *buf, size_t n, const char *what)
{
	size_t got = 0;
	if (r->fd >= 0) {
		while (got < n) {
			ssize_t k = read(r->fd, (char *)buf + got, n - got > (1u << 30) ? (1u << 30) : n - got);
			if (k < 0) {
				if (errno == EINTR)
					continue;
				return od_error(OD_EIO, "'%s': frame %llu: read failed: %s", rlabel(r),
						(unsigned long long)r->index, strerror(errno));
			}
			if (k == 0)
				break;
			got += (size_t)k;
		}
	} else {
		size_t left = r->mem_len - r->mem_pos;
		got = left < n ? left : n;
		memcpy(buf, r->mem + r->mem_pos, got);
		r->mem_pos += got;
	}
	if (got == n)
		return 1;
	if (got == 0)
		return 0;
	return od_error(OD_EFORMAT, "'%s': frame %llu: truncated %s (%zu of %zu bytes)", rlabel(r),
			(unsigned long long)r->index, what, got, n);
}

#define FAIL(...) do { rc = od_error(OD_EFORMAT, "'%s': frame %llu: " __VA_ARGS__); goto fail; } while (0)

int od_reader_next(struct od_reader *r, struct od_frame *f)
{
	unsigned char h[OD_FRAME_HEADER];
	int rc;
	memset(f, 0, sizeof *f);
	rc = rd(r, h, sizeof h, "header");
	if (rc <= 0)
		return rc;
	const char *L = rlabel(r);
	unsigned long long I = (unsigned long long)r->index;
	if (memcmp(h, OD_FRAME_MAGIC, 8)) {
		if (!memcmp(h + 1, "ODF", 3))
			return od_error(OD_EFORMAT, "'%s': frame %llu: corrupted magic (text-mode transfer?)", L, I);
		return od_error(OD_EFORMAT, "'%s': frame %llu: not an od frame stream (bad magic)", L, I);
	}
	unsigned version = get16(h + 8);
	if (version != OD_FRAME_VERSION)
		return od_error(OD_EFORMAT, "'%s': frame %llu: unsupported frame version %u (this reader knows %d)", L, I,
				version, OD_FRAME_VERSION);
	f->kind = (enum od_kind)get16(h + 10);
	if (code_to_dtype(h[12], &f->dtype))
		return od_error(OD_EFORMAT, "'%s': frame %llu: unknown dtype code %u", L, I, h[12]);
	if (h[13] > OD_ROLE_NEGATIVE)
		return od_error(OD_EFORMAT, "'%s': frame %llu: unknown role %u", L, I, h[13]);
	f->role = (enum od_role)h[13];
	f->ndim = h[14];
	if (h[15] || get64(h + 56))
		return od_error(OD_EFORMAT, "'%s': frame %llu: reserved header fields are not zero", L, I);
	for (int i = 0; i < OD_FRAME_MAX_DIMS; i++) {
		uint32_t d = get32(h + 16 + 4 * i);
		if (i < f->ndim)
			f->shape[i] = d;
		else if (d)
			return od_error(OD_EFORMAT, "'%s': frame %llu: shape has entries beyond ndim", L, I);
	}
	uint64_t bytes;
	if ((rc = check_shape(f->ndim, f->shape, f->dtype, &bytes)))
		return od_error_prefix(rc, "'%s': frame %llu", L, I);
	uint32_t meta_len = get32(h + 40), mask_len = get32(h + 44);
	uint64_t data_len = get64(h + 48);
	if (meta_len > OD_FRAME_MAX_META)
		return od_error(OD_EFORMAT, "'%s': frame %llu: %u bytes of metadata (at most %u)", L, I, meta_len,
				OD_FRAME_MAX_META);
	if (data_len != 0 && data_len != bytes)
		return od_error(OD_EFORMAT, "'%s': frame %llu: %llu data bytes, the shape needs %llu", L, I,
				(unsigned long long)data_len, (unsigned long long)bytes);
	if (data_len > r->max_bytes)
		return od_error(OD_EFORMAT, "'%s': frame %llu: %llu data bytes exceed the limit of %zu", L, I,
				(unsigned long long)data_len, r->max_bytes);
	if (mask_len != 0 && mask_len != (uint64_t)f->shape[0])
		return od_error(OD_EFORMAT, "'%s': frame %llu: mask of %u bytes for %lld rows", L, I, mask_len,
				(long long)f->shape[0]);
	if (f->kind == OD_KIND_TEXT && (f->ndim != 2 || mask_len == 0 || data_len == 0))
		return od_error(OD_EFORMAT, "'%s': frame %llu: a text frame needs (S, D) data and an S-byte mask", L, I);
	if (data_len == 0 && f->role != OD_ROLE_TARGET)
		return od_error(OD_EFORMAT, "'%s': frame %llu: only target frames may be placeholders without data", L, I);
	char *meta = NULL;
	if (meta_len) {
		meta = malloc(meta_len);
		if (!meta)
			return od_error(OD_ENOMEM, "out of memory");
		if ((rc = rd(r, meta, meta_len, "metadata")) <= 0) {
			if (rc == 0)
				rc = od_error(OD_EFORMAT, "'%s': frame %llu: truncated metadata (0 of %u bytes)", L, I, meta_len);
			free(meta);
			return rc;
		}
		if (meta[meta_len - 1] != 0) {
			free(meta);
			return od_error(OD_EFORMAT, "'%s': frame %llu: metadata does not end with NUL", L, I);
		}
		for (size_t p = 0; p < meta_len;) {
			size_t n = strlen(meta + p);
			char *eq = memchr(meta + p, '=', n);
			if (!eq || !key_valid(meta + p, (size_t)(eq - (meta + p))) ||
			    !od_utf8_valid(eq + 1, n - (size_t)(eq + 1 - (meta + p)))) {
				free(meta);
				od_frame_free(f);
				return od_error(OD_EFORMAT, "'%s': frame %llu: malformed metadata entry", L, I);
			}
			*eq = 0;
			if (od_frame_get(f, meta + p)) {
				char key[64];
				snprintf(key, sizeof key, "%s", meta + p);
				free(meta);
				od_frame_free(f);
				return od_error(OD_EFORMAT, "'%s': frame %llu: duplicate metadata key '%s'", L, I, key);
			}
			if ((rc = od_frame_set(f, meta + p, eq + 1))) {
				free(meta);
				od_frame_free(f);
				return rc;
			}
			p += n + 1;
		}
		free(meta);
	}
	if (data_len) {
		f->data = malloc((size_t)data_len);
		if (!f->data) {
			rc = od_error(OD_ENOMEM, "'%s': frame %llu: out of memory for %llu bytes", L, I,
				      (unsigned long long)data_len);
			goto fail;
		}
		f->data_len = (size_t)data_len;
		if ((rc = rd(r, f->data, f->data_len, "data")) <= 0) {
			if (rc == 0)
				FAIL("truncated data (0 of %llu bytes)", L, I, (unsigned long long)data_len);
			goto fail;
		}
		/* NaN and infinity are refused at the door: every consumer would only
		 * propagate them. */
		int64_t bad = od_first_nonfinite_raw(f->data, f->dtype, (size_t)od_frame_numel(f));
		if (bad >= 0)
			FAIL("element %lld is not finite (NaN or infinity)", L, I, (long long)bad);
	}
	if (mask_len) {
		f->mask = malloc(mask_len);
		if (!f->mask) {
			rc = od_error(OD_ENOMEM, "out of memory");
			goto fail;
		}
		f->mask_len = mask_len;
		if ((rc = rd(r, f->mask, mask_len, "mask")) <= 0) {
			if (rc == 0)
				FAIL("truncated mask (0 of %u bytes)", L, I, mask_len);
			goto fail;
		}
		for (size_t i = 0; i < mask_len; i++)
			if (f->mask[i] > 1)
				FAIL("mask byte %zu is %u (0 or 1 expected)", L, I, i, f->mask[i]);
	}
	r->index++;
	return 1;
fail:
	od_frame_free(f);
	return rc;
}

/* ------------------------------------------------------------------ several inputs */

void od_inputs_init(struct od_inputs *in, char *const *paths, int n)
{
	static char *const dash[] = { "-" };
	memset(in, 0, sizeof *in);
	in->paths = n > 0 ? paths : dash;
	in->n = n > 0 ? n : 1;
	in->label = "";
	in->index = -1;
}

int od_inputs_next(struct od_inputs *in, struct od_frame *f)
{
	for (;;) {
		if (!in->open) {
			if (in->i >= in->n)
				return 0;
			int rc = od_reader_open(&in->r, in->paths[in->i++]);
			if (rc)
				return rc;
			in->open = 1;
		}
		int rc = od_reader_next(&in->r, f);
		if (rc > 0) {
			in->label = rlabel(&in->r);
			in->index = (long)in->r.index - 1;
		}
		if (rc != 0)
			return rc;
		od_reader_close(&in->r);
		in->open = 0;
	}
}

void od_inputs_close(struct od_inputs *in)
{
	if (in->open)
		od_reader_close(&in->r);
	in->open = 0;
}

/* ------------------------------------------------------------------ writing */

int od_frame_write(struct od_out *o, const struct od_frame *f)
{
	uint64_t bytes;
	int rc = check_shape(f->ndim, f->shape, f->dtype, &bytes);
	if (rc)
		return rc;
	if (!dtype_to_code(f->dtype))
		return od_error(OD_EINVAL, "frame dtype %s cannot be written", od_dtype_name(f->dtype));
	if (f->data && f->data_len != bytes)
		return od_error(OD_EINVAL, "frame data is %zu bytes, its shape needs %llu", f->data_len,
				(unsigned long long)bytes);
	if (f->mask && f->mask_len != (size_t)f->shape[0])
		return od_error(OD_EINVAL, "frame mask is %zu bytes for %lld rows", f->mask_len, (long long)f->shape[0]);
	/* what od_reader_next refuses is never written */
	if (f->kind == OD_KIND_TEXT && (f->ndim != 2 || !f->data || !f->mask))
		return od_error(OD_EINVAL, "a text frame needs (S, D) data and an S-byte mask");
	if (!f->data && f->role != OD_ROLE_TARGET)
		return od_error(OD_EINVAL, "only target frames may be placeholders without data");
	/* The last line of the rule that non-finite values never leave a tool
	 * (every stage checks its own output first, naming itself): no reader
	 * would take the frame anyway. */
	int64_t bad = f->data ? od_first_nonfinite_raw(f->data, f->dtype, (size_t)od_frame_numel(f)) : -1;
	if (bad >= 0) {
		char d[160];
		return od_error(OD_EFAIL, "'%s': refusing to write a %s frame holding NaN or infinity (element %lld)",
				o->label ? o->label : "<output>", od_frame_describe(f, d, sizeof d), (long long)bad);
	}
	size_t meta_len = 0;
	for (int i = 0; i < f->n_meta; i++)
		meta_len += strlen(f->meta[i].key) + 1 + strlen(f->meta[i].value) + 1;
	if (meta_len > OD_FRAME_MAX_META)
		return od_error(OD_EINVAL, "frame metadata is %zu bytes (at most %u)", meta_len, OD_FRAME_MAX_META);
	unsigned char h[OD_FRAME_HEADER] = { 0 };
	memcpy(h, OD_FRAME_MAGIC, 8);
	put16(h + 8, OD_FRAME_VERSION);
	put16(h + 10, (unsigned)f->kind);
	h[12] = (unsigned char)dtype_to_code(f->dtype);
	h[13] = (unsigned char)f->role;
	h[14] = (unsigned char)f->ndim;
	for (int i = 0; i < f->ndim; i++)
		put32(h + 16 + 4 * i, (uint32_t)f->shape[i]);
	put32(h + 40, (uint32_t)meta_len);
	put32(h + 44, (uint32_t)(f->mask ? f->mask_len : 0));
	put64(h + 48, f->data ? (uint64_t)f->data_len : 0);
	char *meta = NULL;
	if (meta_len) {
		meta = malloc(meta_len);
		if (!meta)
			return od_error(OD_ENOMEM, "out of memory");
		char *p = meta;
		for (int i = 0; i < f->n_meta; i++)
			p += sprintf(p, "%s=%s", f->meta[i].key, f->meta[i].value) + 1;
	}
	rc = od_out_write(o, h, sizeof h);
	if (!rc && meta_len)
		rc = od_out_write(o, meta, meta_len);
	if (!rc && f->data)
		rc = od_out_write(o, f->data, f->data_len);
	if (!rc && f->mask)
		rc = od_out_write(o, f->mask, f->mask_len);
	free(meta);
	return rc;
}
