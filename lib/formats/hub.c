/* hub.c: listing, downloading and verifying a Hugging Face hub repository
 * (see hub.h). */
#include "formats/hub.h"
#include "base/error.h"
#include "base/io.h"
#include "base/sha.h"
#include "formats/config.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_PAGE ((size_t)64 << 20) /* bytes of one page of the file list */
#define MAX_PAGES 10000

/* ---------------------------------------------------------------- parsing */

/* A path from the hub becomes a path under the model folder: it must stay there. */
static int path_ok(const char *p, size_t len)
{
	if (!len || len > 4096 || strlen(p) != len || p[0] == '/')
		return 0;
	for (const char *s = p; *s;) {
		size_t n = strcspn(s, "/");
		if (!n || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.') || memchr(s, '\\', n))
			return 0;
		s += n;
		if (*s == '/' && !*++s)
			return 0; /* a trailing slash */
	}
	return 1;
}

static int is_hex(const char *s, size_t n)
{
	if (strlen(s) != n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!strchr("0123456789abcdef", s[i]))
			return 0;
	return 1;
}

void od_hub_files_free(struct od_hub_file *files, int n)
{
	for (int i = 0; i < n; i++)
		free(files[i].path);
	free(files);
}

int od_hub_parse_tree(const char *json, size_t len, const char *label, struct od_hub_file **files, int *n)
{
	json_error_t err;
	json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &err);
	if (!root)
		return od_error(OD_EFORMAT, "'%s': not JSON (line %d: %s)", label, err.line, err.text);
	int rc = OD_OK;
	if (!json_is_array(root))
		rc = od_error(OD_EFORMAT, "'%s': not a list of files", label);
	size_t i;
	json_t *e;
	json_array_foreach(root, i, e) {
		if (rc)
			break;
		json_t *type = json_object_get(e, "type"), *path = json_object_get(e, "path");
		if (!json_is_object(e) || !json_is_string(type) || !json_is_string(path)) {
			rc = od_error(OD_EFORMAT, "'%s': entry %zu is not {\"type\", \"path\", ...}", label, i);
			break;
		}
		if (strcmp(json_string_value(type), "file"))
			continue; /* directories */
		const char *p = json_string_value(path);
		if (!path_ok(p, json_string_length(path))) {
			rc = od_error(OD_EFORMAT, "'%s': entry %zu: '%.200s' is not a relative path inside the model",
				      label, i, p);
			break;
		}
		json_t *size = json_object_get(e, "size"), *oid = json_object_get(e, "oid"), *lfs = json_object_get(e, "lfs");
		if (!json_is_integer(size) || json_integer_value(size) < 0 || !json_is_string(oid) ||
		    !is_hex(json_string_value(oid), 40)) {
			rc = od_error(OD_EFORMAT, "'%s': '%.200s': no size or git id", label, p);
			break;
		}
		struct od_hub_file f = { .size = (uint64_t)json_integer_value(size) };
		snprintf(f.git_oid, sizeof f.git_oid, "%s", json_string_value(oid));
		if (lfs) {
			json_t *lo = json_object_get(lfs, "oid"), *ls = json_object_get(lfs, "size");
			const char *h = json_is_string(lo) ? json_string_value(lo) : "";
			if (!strncmp(h, "sha256:", 7))
				h += 7;
			if (!is_hex(h, 64) || !json_is_integer(ls) || json_integer_value(ls) != (json_int_t)f.size) {
				rc = od_error(OD_EFORMAT, "'%s': '%.200s': its LFS entry has no SHA-256 or another size", label,
					      p);
				break;
			}
			snprintf(f.sha256, sizeof f.sha256, "%s", h);
		}
		for (int k = 0; k < *n; k++)
			if (!strcmp((*files)[k].path, p)) {
				rc = od_error(OD_EFORMAT, "'%s': '%.200s' is listed twice", label, p);
				break;
			}
		if (rc)
			break;
		struct od_hub_file *nf = realloc(*files, (size_t)(*n + 1) * sizeof *nf);
		if (!nf || !(f.path = strdup(p))) {
			if (nf)
				*files = nf;
			rc = od_error(OD_ENOMEM, "out of memory");
			break;
		}
		*files = nf;
		nf[(*n)++] = f;
	}
	json_decref(root);
	return rc;
}

int od_hub_next_link(const char *link, char *url, size_t size)
{
	/* <URL>; rel="next", <URL>; rel="prev" ... */
	for (const char *p = link; p && *p;) {
		const char *lt = strchr(p, '<');
		if (!lt)
			return 0;
		const char *gt = strchr(lt, '>');
		if (!gt)
			return 0;
		const char *end = strchr(gt, ',');
		size_t params = end ? (size_t)(end - gt) : strlen(gt);
		char buf[256];
		snprintf(buf, sizeof buf, "%.*s", (int)(params < sizeof buf ? params : sizeof buf - 1), gt);
		if (strstr(buf, "rel=\"next\"") || strstr(buf, "rel=next")) {
			size_t n = (size_t)(gt - lt - 1);
			if (n + 1 > size || !n)
				return od_error(OD_EFORMAT, "a Link header's next page does not fit");
			memcpy(url, lt + 1, n);
			url[n] = 0;
			return 1;
		}
		p = end ? end + 1 : NULL;
	}
	return 0;
}

/* ---------------------------------------------------------------- HTTP */

static int curl_ready(void)
{
	static int done;
	if (!done) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT))
			return od_error(OD_EFAIL, "libcurl cannot start");
		done = 1;
	}
	return OD_OK;
}

static CURL *easy(const struct od_hub_opts *o, struct curl_slist **headers)
{
	CURL *c = curl_easy_init();
	if (!c)
		return NULL;
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "od/" OD_VERSION);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L); /* a stalled transfer fails after a minute */
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	*headers = NULL;
	if (o->token && *o->token) {
		char *h = NULL;
		if (asprintf(&h, "Authorization: Bearer %s", o->token) >= 0) {
			*headers = curl_slist_append(NULL, h); /* libcurl keeps it from other hosts on redirects */
			free(h);
		}
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, *headers);
	}
	return c;
}

/* The message of a failed request. */
static int http_error(CURLcode res, long code, const char *url, const char *what)
{
	if (res != CURLE_OK)
		return od_error(OD_EIO, "'%s': %s", url, curl_easy_strerror(res));
	if (code == 404)
		return od_error(OD_EIO, "'%s': HTTP 404 (no such %s)", url, what);
	if (code == 401 || code == 403)
		return od_error(OD_EIO, "'%s': HTTP %ld (a private or gated %s: set HF_TOKEN)", url, code, what);
	return od_error(OD_EIO, "'%s': HTTP %ld", url, code);
}

struct page {
	char *data;
	size_t n;
	int too_big;
	char next[4096];
	int has_next;
};

static size_t page_write(char *p, size_t size, size_t nmemb, void *user)
{
	struct page *pg = user;
	size_t k = size * nmemb;
	if (pg->n + k > MAX_PAGE) {
		pg->too_big = 1;
		return 0;
	}
	char *d = realloc(pg->data, pg->n + k + 1);
	if (!d)
		return 0;
	memcpy(d + pg->n, p, k);
	pg->data = d;
	pg->n += k;
	return k;
}

static size_t page_header(char *p, size_t size, size_t nmemb, void *user)
{
	struct page *pg = user;
	size_t k = size * nmemb;
	if (k > 5 && !strncasecmp(p, "link:", 5)) {
		char line[8192];
		snprintf(line, sizeof line, "%.*s", (int)(k - 5 < sizeof line ? k - 5 : sizeof line - 1), p + 5);
		line[strcspn(line, "\r\n")] = 0;
		if (od_hub_next_link(line, pg->next, sizeof pg->next) == 1)
			pg->has_next = 1;
	} else if (k >= 5 && !strncasecmp(p, "HTTP/", 5)) {
		pg->has_next = 0; /* a new response (after a redirect) */
	}
	return k;
}

/* A path segment by segment, each escaped, '/' kept. */
static char *escape_path(CURL *c, const char *path)
{
	size_t cap = strlen(path) * 3 + 1;
	char *out = malloc(cap);
	if (!out)
		return NULL;
	out[0] = 0;
	for (const char *s = path; *s;) {
		size_t n = strcspn(s, "/");
		char *e = curl_easy_escape(c, s, (int)n);
		if (!e) {
			free(out);
			return NULL;
		}
		strcat(out, e);
		curl_free(e);
		s += n;
		if (*s == '/')
			strcat(out, "/"), s++;
	}
	return out;
}

static int selected(const struct od_hub_opts *o, const char *path)
{
	if (!o->n_include)
		return 1;
	for (int i = 0; i < o->n_include; i++)
		if (!fnmatch(o->include[i], path, 0))
			return 1;
	return 0;
}

int od_hub_list(const struct od_hub_opts *o, struct od_hub_file **files, int *n)
{
	OD_TRY(curl_ready());
	*files = NULL;
	*n = 0;
	struct curl_slist *headers;
	CURL *c = easy(o, &headers);
	if (!c)
		return od_error(OD_ENOMEM, "out of memory");
	char *rev = curl_easy_escape(c, o->revision ? o->revision : "main", 0);
	char url[4096];
	snprintf(url, sizeof url, "%s/api/models/%s/tree/%s?recursive=true", o->endpoint ? o->endpoint : OD_HUB_ENDPOINT,
		 o->repo, rev ? rev : "main");
	curl_free(rev);
	int rc = OD_OK;
	for (int pages = 0; !rc; pages++) {
		if (pages == MAX_PAGES) {
			rc = od_error(OD_EFORMAT, "'%s': more than %d pages of files", url, MAX_PAGES);
			break;
		}
		struct page pg = { 0 };
		curl_easy_setopt(c, CURLOPT_URL, url);
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, page_write);
		curl_easy_setopt(c, CURLOPT_WRITEDATA, &pg);
		curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, page_header);
		curl_easy_setopt(c, CURLOPT_HEADERDATA, &pg);
		CURLcode res = curl_easy_perform(c);
		long code = 0;
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
		if (pg.too_big)
			rc = od_error(OD_EFORMAT, "'%s': the list of files is over %zu MiB", url, MAX_PAGE >> 20);
		else if (res != CURLE_OK || code != 200)
			rc = http_error(res, code, url, "model or revision");
		else
			rc = od_hub_parse_tree(pg.data ? pg.data : "", pg.n, url, files, n);
		free(pg.data);
		if (rc || !pg.has_next)
			break;
		snprintf(url, sizeof url, "%s", pg.next);
	}
	curl_easy_cleanup(c);
	curl_slist_free_all(headers);
	/* keep the selected files */
	int k = 0;
	for (int i = 0; !rc && i < *n; i++) {
		if (selected(o, (*files)[i].path))
			(*files)[k++] = (*files)[i];
		else
			free((*files)[i].path);
	}
	if (rc) {
		od_hub_files_free(*files, *n);
		*files = NULL;
		*n = 0;
		return rc;
	}
	*n = k;
	return OD_OK;
}

/* ---------------------------------------------------------------- downloading */

/* The two checks of a file's content, fed as it arrives. */
struct check {
	struct od_sha256 s256;
	struct od_sha1 s1;
	int lfs;
};

static void check_begin(struct check *k, const struct od_hub_file *f)
{
	k->lfs = f->sha256[0] != 0;
	if (k->lfs)
		od_sha256_init(&k->s256);
	else
		od_git_blob_begin(&k->s1, f->size);
}

static void check_add(struct check *k, const void *d, size_t n)
{
	if (k->lfs)
		od_sha256_update(&k->s256, d, n);
	else
		od_sha1_update(&k->s1, d, n);
}

struct xfer {
	int fd;
	const char *label;
	struct check *k;
	uint64_t have;          /* bytes in the file */
	uint64_t start;         /* bytes there before this transfer */
	int restarted;          /* the server sent the whole file: started again */
	int failed;             /* a write failed (errno) */
	CURL *c;
	const struct od_hub_opts *o;
	struct od_hub_status *st;
	uint64_t base_all;      /* done_all before this file */
	uint64_t limit;         /* the file's size: more is refused */
};

static size_t xfer_write(char *p, size_t size, size_t nmemb, void *user)
{
	struct xfer *x = user;
	size_t k = size * nmemb;
	long code = 0;
	curl_easy_getinfo(x->c, CURLINFO_RESPONSE_CODE, &code);
	if (code >= 400)
		return 0;
	if (code == 200 && x->start && !x->restarted) {
		/* no range support: the whole file again, from its first byte */
		if (ftruncate(x->fd, 0) || lseek(x->fd, 0, SEEK_SET) < 0) {
			x->failed = errno;
			return 0;
		}
		x->restarted = 1;
		x->have = x->start = 0;
		if (x->k->lfs)
			od_sha256_init(&x->k->s256);
		else
			od_git_blob_begin(&x->k->s1, x->limit);
	}
	if (x->have + k > x->limit) {
		x->failed = EFBIG;
		return 0;
	}
	if (od_write_all(x->fd, p, k, x->label)) {
		x->failed = errno ? errno : EIO;
		return 0;
	}
	check_add(x->k, p, k);
	x->have += k;
	return k;
}

static int xfer_progress(void *user, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
	struct xfer *x = user;
	if (x->o->progress) {
		x->st->done = x->have;
		x->st->done_all = x->base_all + x->have;
		x->o->progress(x->o->user, x->st);
	}
	return 0;
}

/* Hash what a partial download already holds. */
static int hash_existing(int fd, struct check *k, uint64_t n, const char *label)
{
	char buf[1 << 16];
	uint64_t left = n;
	if (lseek(fd, 0, SEEK_SET) < 0)
		return od_error(OD_EIO, "'%s': cannot read back: %s", label, strerror(errno));
	while (left) {
		ssize_t r = read(fd, buf, left < sizeof buf ? (size_t)left : sizeof buf);
		if (r <= 0)
			return od_error(OD_EIO, "'%s': cannot read back: %s", label, r ? strerror(errno) : "truncated");
		check_add(k, buf, (size_t)r);
		left -= (uint64_t)r;
	}
	return lseek(fd, 0, SEEK_END) < 0 ? od_error(OD_EIO, "'%s': %s", label, strerror(errno)) : OD_OK;
}

/* mkdir -p of path's folders (not its last part). */
static int make_parents(const char *path)
{
	char buf[PATH_MAX];
	snprintf(buf, sizeof buf, "%s", path);
	for (char *s = buf + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = 0;
		if (mkdir(buf, 0777) && errno != EEXIST)
			return od_error(OD_EIO, "'%s': cannot create the folder: %s", buf, strerror(errno));
		*s = '/';
	}
	return OD_OK;
}

static int fetch(const struct od_hub_opts *o, CURL *c, const struct od_hub_file *f, const char *part,
		 struct od_hub_status *st)
{
	char url[8192];
	char *ep = escape_path(c, f->path), *rev = curl_easy_escape(c, o->revision ? o->revision : "main", 0);
	if (!ep || !rev) {
		free(ep);
		curl_free(rev);
		return od_error(OD_ENOMEM, "out of memory");
	}
	snprintf(url, sizeof url, "%s/%s/resolve/%s/%s", o->endpoint ? o->endpoint : OD_HUB_ENDPOINT, o->repo, rev, ep);
	free(ep);
	curl_free(rev);
	OD_TRY(make_parents(part));
	int fd = open(part, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
	if (fd < 0)
		return od_error(OD_EIO, "'%s': cannot create: %s", part, strerror(errno));
	struct stat sb;
	uint64_t have = !fstat(fd, &sb) ? (uint64_t)sb.st_size : 0;
	struct check k;
	check_begin(&k, f);
	int rc = OD_OK;
	if (have > f->size) {
		if (ftruncate(fd, 0))
			rc = od_error(OD_EIO, "'%s': %s", part, strerror(errno));
		have = 0;
	}
	if (!rc && have)
		rc = hash_existing(fd, &k, have, part);
	st->resumed = have > 0;
	struct xfer x = { .fd = fd, .label = part, .k = &k, .have = have, .start = have, .c = c, .o = o, .st = st,
			  .base_all = st->done_all, .limit = f->size };
	if (!rc && have < f->size) {
		char range[64];
		snprintf(range, sizeof range, "%" PRIu64 "-", have);
		curl_easy_setopt(c, CURLOPT_URL, url);
		curl_easy_setopt(c, CURLOPT_RANGE, have ? range : NULL);
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, xfer_write);
		curl_easy_setopt(c, CURLOPT_WRITEDATA, &x);
		curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, NULL);
		curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
		curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, xfer_progress);
		curl_easy_setopt(c, CURLOPT_XFERINFODATA, &x);
		CURLcode res = curl_easy_perform(c);
		long code = 0;
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
		if (x.failed == EFBIG)
			rc = od_error(OD_EFORMAT, "'%s': the server sent more than the %" PRIu64 " bytes the hub lists", f->path,
				      f->size);
		else if (x.failed)
			rc = od_error(OD_EIO, "'%s': cannot write: %s", part, strerror(x.failed));
		else if (code >= 400 || (res == CURLE_OK && code != 200 && code != 206))
			rc = http_error(CURLE_OK, code, url, "file");
		else if (res != CURLE_OK)
			rc = od_error(OD_EIO, "'%s': %s after %" PRIu64 " of %" PRIu64 " bytes (run again to resume)", url,
				      curl_easy_strerror(res), x.have, f->size);
		have = x.have;
	}
	if (!rc && have != f->size)
		rc = od_error(OD_EIO, "'%s': %" PRIu64 " bytes of %" PRIu64 " came (run again to resume)", url, have, f->size);
	char got[65], want[65];
	if (!rc) {
		if (k.lfs) {
			od_sha256_hex(&k.s256, got);
			snprintf(want, sizeof want, "%s", f->sha256);
		} else {
			od_sha1_hex(&k.s1, got);
			snprintf(want, sizeof want, "%s", f->git_oid);
		}
		if (strcmp(got, want)) {
			rc = od_error(OD_EFORMAT, "'%s': its %s is %.12s..., the hub's is %.12s... (the download is removed: "
						  "run again)", f->path, k.lfs ? "SHA-256" : "git id", got, want);
			if (ftruncate(fd, 0) == 0)
				unlink(part);
		}
	}
	if (!rc && fsync(fd))
		rc = od_error(OD_EIO, "'%s': %s", part, strerror(errno));
	close(fd);
	return rc;
}

/* Does dir hold every file at its size? */
static int complete(const char *dir, const struct od_hub_file *files, int n)
{
	for (int i = 0; i < n; i++) {
		char *p = od_path_join(dir, files[i].path);
		struct stat sb;
		int ok = p && !stat(p, &sb) && S_ISREG(sb.st_mode) && (uint64_t)sb.st_size == files[i].size;
		free(p);
		if (!ok)
			return 0;
	}
	return 1;
}

int od_hub_pull(const struct od_hub_opts *o, const char *dir, struct od_hub_result *r)
{
	memset(r, 0, sizeof *r);
	struct od_hub_file *files;
	int n;
	OD_TRY(od_hub_list(o, &files, &n));
	int rc = OD_OK;
	if (!n)
		rc = od_error(OD_EFORMAT, "'%s': no file of the repository matches", o->repo);
	r->n_files = n;
	for (int i = 0; i < n; i++)
		r->bytes += files[i].size;
	if (!rc && od_is_dir(dir)) {
		if (complete(dir, files, n))
			r->up_to_date = 1;
		else
			rc = od_error(OD_EINVAL, "'%s' exists and does not hold this model: remove it or give another folder",
				      dir);
	} else if (!rc && od_is_file(dir)) {
		rc = od_error(OD_EINVAL, "'%s' exists and is not a folder", dir);
	}
	if (rc || r->up_to_date) {
		od_hub_files_free(files, n);
		return rc;
	}
	char staging[PATH_MAX];
	if (snprintf(staging, sizeof staging, "%s.partial", dir) >= (int)sizeof staging)
		rc = od_error(OD_EINVAL, "'%s': the folder's name is too long", dir);
	struct curl_slist *headers = NULL;
	CURL *c = rc ? NULL : easy(o, &headers);
	if (!rc && !c)
		rc = od_error(OD_ENOMEM, "out of memory");
	if (!rc && (rc = make_parents(staging)) == OD_OK && mkdir(staging, 0777) && errno != EEXIST)
		rc = od_error(OD_EIO, "'%s': cannot create the folder: %s", staging, strerror(errno));
	struct od_hub_status st = { .n_files = n, .size_all = r->bytes };
	for (int i = 0; !rc && i < n; i++) {
		const struct od_hub_file *f = &files[i];
		char *final = od_path_join(staging, f->path), part[PATH_MAX + 8];
		if (!final) {
			rc = od_error(OD_ENOMEM, "out of memory");
			break;
		}
		snprintf(part, sizeof part, "%s.part", final);
		st.path = f->path, st.index = i, st.done = 0, st.size = f->size, st.resumed = 0;
		struct stat sb;
		if (!stat(final, &sb) && S_ISREG(sb.st_mode) && (uint64_t)sb.st_size == f->size) {
			/* verified and renamed by an earlier run */
		} else if (!(rc = fetch(o, c, f, part, &st))) {
			if (rename(part, final))
				rc = od_error(OD_EIO, "'%s': cannot rename: %s", part, strerror(errno));
			r->n_fetched++;
			r->n_resumed += st.resumed;
		}
		free(final);
		st.done_all += f->size;
		if (!rc && o->progress) {
			st.done = f->size;
			o->progress(o->user, &st);
		}
	}
	if (c)
		curl_easy_cleanup(c);
	curl_slist_free_all(headers);
	if (!rc && rename(staging, dir))
		rc = od_error(OD_EIO, "'%s': cannot rename to '%s': %s", staging, dir, strerror(errno));
	od_hub_files_free(files, n);
	return rc;
}
