/*
 * odhub: a stand-in for the Hugging Face hub on 127.0.0.1, for testing
 * od-model pull without the network (a test tool).
 *
 *   odhub [OPTIONS] MANIFEST ROOT REPO
 *
 * Serves the files of ROOT as the repository REPO ("owner/name") in the
 * hub's URL layout (formats/hub.h), with the two endpoints od uses:
 *
 *   GET /api/models/REPO/tree/REV?recursive=true   the file list, JSON, in
 *        pages of --page entries linked by "Link: <...>; rel=\"next\""
 *   GET /REPO/resolve/REV/PATH                      a file, with Range
 *
 * MANIFEST has a line "PATH SIZE GIT-BLOB-SHA1 [SHA256]" per file, made by
 * the test with git hash-object and sha256sum, so that what the hub claims
 * does not come from od's own hashing; a file with a SHA-256 is listed as an
 * LFS file. Faults, for the tests of what can go wrong:
 *
 *   --cut PATH:N     the first request of PATH gets its headers (the whole
 *                    Content-Length) and N bytes, then the connection closes
 *   --corrupt PATH   PATH is served with one byte changed, at its size
 *   --missing PATH   PATH's resolve is a 404
 *   --no-range       Range headers are ignored (200, the whole file)
 *   --redirect       LFS files' resolve redirects (302) to /cdn/PATH, as the
 *                    hub sends them to its CDN
 *   --page N         N entries per page of the list (default: all)
 *   --port-file F    write the port to F once listening (the test waits for it)
 *   --log F          append "METHOD TARGET range=RANGE" per request
 *
 * It answers one connection at a time, each with "Connection: close", until
 * it is killed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

struct entry {
	char path[1024];
	long long size;
	char oid[64], sha256[80];
};

static struct entry *entries;
static int n_entries, page, no_range, redirect, port;
static const char *root, *repo, *cut_path, *corrupt_path, *missing_path, *log_path;
static long long cut_bytes = -1;
static int cut_done;

static void die(const char *msg, const char *arg)
{
	fprintf(stderr, "odhub: %s%s%s\n", msg, arg ? ": " : "", arg ? arg : "");
	exit(2);
}

static void send_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

static void reply(int fd, int code, const char *status, const char *headers, const char *body)
{
	char h[4096];
	int n = snprintf(h, sizeof h, "HTTP/1.1 %d %s\r\nContent-Length: %zu\r\nConnection: close\r\n%s\r\n", code, status,
			 strlen(body), headers ? headers : "");
	send_all(fd, h, (size_t)n);
	send_all(fd, body, strlen(body));
}

static void url_decode(char *s)
{
	char *o = s;
	for (char *p = s; *p; p++) {
		if (p[0] == '%' && p[1] && p[2]) {
			char hex[3] = { p[1], p[2], 0 };
			*o++ = (char)strtol(hex, NULL, 16);
			p += 2;
		} else {
			*o++ = *p;
		}
	}
	*o = 0;
}

static struct entry *find(const char *path)
{
	for (int i = 0; i < n_entries; i++)
		if (!strcmp(entries[i].path, path))
			return &entries[i];
	return NULL;
}

/* The tree endpoint: the manifest's files (and their folders), page by page. */
static void tree(int fd, const char *query)
{
	int start = 0;
	const char *cur = query ? strstr(query, "cursor=") : NULL;
	if (cur)
		start = atoi(cur + 7);
	int end = page ? start + page : n_entries;
	if (end > n_entries)
		end = n_entries;
	size_t cap = 4096 + (size_t)(end - start) * 2600;
	char *body = malloc(cap), *p = body;
	p += sprintf(p, "[");
	if (start == 0) /* a folder entry, which a client passes over */
		p += sprintf(p, "{\"type\":\"directory\",\"oid\":\"%040d\",\"path\":\"transformer\"}%s", 0,
			     end > start ? "," : "");
	for (int i = start; i < end; i++) {
		const struct entry *e = &entries[i];
		p += sprintf(p, "%s{\"type\":\"file\",\"oid\":\"%s\",\"size\":%lld,\"path\":\"%s\"", i > start ? "," : "",
			     e->oid, e->size, e->path);
		if (e->sha256[0])
			p += sprintf(p, ",\"lfs\":{\"oid\":\"%s\",\"size\":%lld,\"pointerSize\":134}", e->sha256, e->size);
		p += sprintf(p, "}");
	}
	p += sprintf(p, "]");
	char link[2048] = "";
	if (end < n_entries)
		snprintf(link, sizeof link,
			 "Link: <http://127.0.0.1:%d/api/models/%s/tree/main?recursive=true&cursor=%d>; rel=\"next\"\r\n"
			 "Content-Type: application/json\r\n", port, repo, end);
	else
		snprintf(link, sizeof link, "Content-Type: application/json\r\n");
	reply(fd, 200, "OK", link, body);
	free(body);
}

/* A file's bytes, from offset from (a Range request) or whole. */
static void serve_file(int fd, const struct entry *e, const char *range)
{
	char path[2048];
	snprintf(path, sizeof path, "%s/%s", root, e->path);
	FILE *f = fopen(path, "rb");
	if (!f) {
		reply(fd, 500, "Internal Server Error", NULL, "cannot read the file\n");
		return;
	}
	char *data = malloc((size_t)e->size + 1);
	if ((long long)fread(data, 1, (size_t)e->size, f) != e->size) {
		fclose(f);
		free(data);
		reply(fd, 500, "Internal Server Error", NULL, "short file\n");
		return;
	}
	fclose(f);
	if (corrupt_path && !strcmp(corrupt_path, e->path) && e->size)
		data[e->size / 2] ^= 0x55;
	long long from = 0;
	if (range && !no_range && sscanf(range, "bytes=%lld-", &from) == 1 && from >= 0 && from < e->size) {
		char h[4096];
		int n = snprintf(h, sizeof h,
				 "HTTP/1.1 206 Partial Content\r\nContent-Length: %lld\r\nContent-Range: bytes %lld-%lld/%lld\r\n"
				 "Connection: close\r\n\r\n", e->size - from, from, e->size - 1, e->size);
		send_all(fd, h, (size_t)n);
	} else {
		from = 0;
		char h[1024];
		int n = snprintf(h, sizeof h, "HTTP/1.1 200 OK\r\nContent-Length: %lld\r\nConnection: close\r\n\r\n", e->size);
		send_all(fd, h, (size_t)n);
	}
	long long len = e->size - from;
	if (cut_path && !cut_done && !strcmp(cut_path, e->path)) {
		cut_done = 1;
		if (cut_bytes < len)
			len = cut_bytes;
	}
	send_all(fd, data + from, (size_t)len);
	free(data);
}

static void handle(int fd)
{
	char req[16384];
	size_t n = 0;
	while (n < sizeof req - 1) {
		ssize_t r = read(fd, req + n, sizeof req - 1 - n);
		if (r <= 0)
			break;
		n += (size_t)r;
		req[n] = 0;
		if (strstr(req, "\r\n\r\n"))
			break;
	}
	req[n] = 0;
	char method[16], target[8192];
	if (sscanf(req, "%15s %8191s", method, target) != 2) {
		reply(fd, 400, "Bad Request", NULL, "");
		return;
	}
	char range[128] = "";
	const char *r = strcasestr(req, "\r\nRange:");
	if (r) {
		r += 8;
		while (*r == ' ')
			r++;
		snprintf(range, sizeof range, "%.*s", (int)strcspn(r, "\r\n"), r);
	}
	if (log_path) {
		FILE *lf = fopen(log_path, "a");
		if (lf) {
			fprintf(lf, "%s %s range=%s\n", method, target, range);
			fclose(lf);
		}
	}
	char *query = strchr(target, '?');
	if (query)
		*query++ = 0;
	url_decode(target);
	char prefix[1200];
	snprintf(prefix, sizeof prefix, "/api/models/%s/tree/", repo);
	if (!strncmp(target, prefix, strlen(prefix))) {
		tree(fd, query);
		return;
	}
	snprintf(prefix, sizeof prefix, "/%s/resolve/", repo);
	if (!strncmp(target, prefix, strlen(prefix))) {
		const char *rest = target + strlen(prefix), *slash = strchr(rest, '/');
		const struct entry *e = slash ? find(slash + 1) : NULL;
		if (!e || (missing_path && !strcmp(missing_path, e->path))) {
			reply(fd, 404, "Not Found", NULL, "Entry not found\n");
			return;
		}
		if (redirect && e->sha256[0]) {
			char h[2200];
			snprintf(h, sizeof h, "Location: http://127.0.0.1:%d/cdn/%s\r\n", port, e->path);
			reply(fd, 302, "Found", h, "");
			return;
		}
		serve_file(fd, e, range[0] ? range : NULL);
		return;
	}
	if (!strncmp(target, "/cdn/", 5)) {
		const struct entry *e = find(target + 5);
		if (!e) {
			reply(fd, 404, "Not Found", NULL, "");
			return;
		}
		serve_file(fd, e, range[0] ? range : NULL);
		return;
	}
	reply(fd, 404, "Not Found", NULL, "Repository not found\n");
}

int main(int argc, char **argv)
{
	const char *port_file = NULL;
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--no-range"))
			no_range = 1;
		else if (!strcmp(a, "--redirect"))
			redirect = 1;
		else if (!v)
			die("a value is missing after", a);
		else if (!strcmp(a, "--page"))
			page = atoi(v), i++;
		else if (!strcmp(a, "--port-file"))
			port_file = v, i++;
		else if (!strcmp(a, "--log"))
			log_path = v, i++;
		else if (!strcmp(a, "--corrupt"))
			corrupt_path = v, i++;
		else if (!strcmp(a, "--missing"))
			missing_path = v, i++;
		else if (!strcmp(a, "--cut")) {
			static char cp[1024];
			const char *colon = strrchr(v, ':');
			if (!colon)
				die("--cut takes PATH:BYTES", v);
			snprintf(cp, sizeof cp, "%.*s", (int)(colon - v), v);
			cut_path = cp;
			cut_bytes = atoll(colon + 1);
			i++;
		} else
			die("unknown option", a);
	}
	if (argc - i != 3)
		die("usage: odhub [OPTIONS] MANIFEST ROOT REPO", NULL);
	root = argv[i + 1];
	repo = argv[i + 2];
	FILE *mf = fopen(argv[i], "r");
	if (!mf)
		die("cannot read", argv[i]);
	char line[4096];
	while (fgets(line, sizeof line, mf)) {
		struct entry e = { .sha256 = "" };
		int k = sscanf(line, "%1023s %lld %63s %79s", e.path, &e.size, e.oid, e.sha256);
		if (k < 3)
			continue;
		entries = realloc(entries, (size_t)(n_entries + 1) * sizeof *entries);
		entries[n_entries++] = e;
	}
	fclose(mf);
	signal(SIGPIPE, SIG_IGN);
	int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = 0 };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) || listen(s, 16))
		die("cannot listen on 127.0.0.1", strerror(errno));
	socklen_t al = sizeof a;
	getsockname(s, (struct sockaddr *)&a, &al);
	port = ntohs(a.sin_port);
	if (port_file) {
		char tmp[4096];
		snprintf(tmp, sizeof tmp, "%s.tmp", port_file);
		FILE *pf = fopen(tmp, "w");
		if (!pf)
			die("cannot write", tmp);
		fprintf(pf, "%d\n", port);
		fclose(pf);
		rename(tmp, port_file);
	}
	for (;;) {
		int c = accept(s, NULL, NULL);
		if (c < 0) {
			if (errno == EINTR)
				continue;
			die("accept failed", strerror(errno));
		}
		handle(c);
		shutdown(c, SHUT_WR);
		/* let the client read everything before the socket goes */
		char drain[256];
		while (read(c, drain, sizeof drain) > 0)
			;
		close(c);
	}
}
