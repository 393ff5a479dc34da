/*
 * test_hub: what od-model pull reads from the hub (formats/hub.h) without a
 * network: pages of the tree endpoint (LFS and plain files, folders passed
 * over, the "sha256:" prefix some servers put on LFS ids) and every way a
 * page is refused (paths that would leave the model folder, a file twice,
 * ids that are not hex, an LFS size that differs, not JSON); Link headers.
 * t0180 downloads through a local server.
 */
#include "formats/hub.h"
#include "base/error.h"
#include "tap.h"

#include <string.h>

#define GIT "0123456789abcdef0123456789abcdef01234567"
#define SHA "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static int parse(const char *json, struct od_hub_file **f, int *n)
{
	*f = NULL;
	*n = 0;
	return od_hub_parse_tree(json, strlen(json), "page", f, n);
}

static int refused(const char *json, const char *msg)
{
	struct od_hub_file *f;
	int n, rc = parse(json, &f, &n);
	od_hub_files_free(f, n);
	return rc == OD_EFORMAT && strstr(od_errmsg(), msg);
}

int main(void)
{
	struct od_hub_file *f;
	int n;
	int rc = parse("[{\"type\":\"directory\",\"oid\":\"" GIT "\",\"path\":\"vae\"},"
		       "{\"type\":\"file\",\"oid\":\"" GIT "\",\"size\":763,\"path\":\"vae/config.json\"},"
		       "{\"type\":\"file\",\"oid\":\"" GIT "\",\"size\":7,\"path\":\"vae/w.safetensors\","
		       "\"lfs\":{\"oid\":\"" SHA "\",\"size\":7,\"pointerSize\":134}},"
		       "{\"type\":\"file\",\"oid\":\"" GIT "\",\"size\":7,\"path\":\"x\","
		       "\"lfs\":{\"oid\":\"sha256:" SHA "\",\"size\":7}}]", &f, &n);
	ok(rc == 0 && n == 3, "a page: three files, the folder passed over (%d)", n);
	ok(n == 3 && !strcmp(f[0].path, "vae/config.json") && f[0].size == 763 && !f[0].sha256[0] &&
	   !strcmp(f[0].git_oid, GIT), "a plain file: path, size, git id, no SHA-256");
	ok(n == 3 && !strcmp(f[1].sha256, SHA) && f[1].size == 7, "an LFS file: its SHA-256");
	ok(n == 3 && !strcmp(f[2].sha256, SHA), "an LFS id with a sha256: prefix");
	od_hub_files_free(f, n);
	rc = parse("[]", &f, &n);
	ok(rc == 0 && n == 0, "an empty page");
	od_hub_files_free(f, n);
#define FILE_(p) "{\"type\":\"file\",\"oid\":\"" GIT "\",\"size\":1,\"path\":\"" p "\"}"
	ok(refused("[" FILE_("../etc/passwd") "]", "not a relative path inside the model"), "'..' is refused");
	ok(refused("[" FILE_("a/../../b") "]", "not a relative path"), "'..' inside is refused");
	ok(refused("[" FILE_("/etc/passwd") "]", "not a relative path"), "an absolute path is refused");
	ok(refused("[" FILE_("a//b") "]", "not a relative path"), "an empty part is refused");
	ok(refused("[" FILE_("./a") "]", "not a relative path"), "'.' is refused");
	ok(refused("[" FILE_("a\\\\b") "]", "not a relative path"), "a backslash is refused");
	ok(refused("[" FILE_("a\\u0000b") "]", "'page'"), "a NUL is refused");
	ok(refused("[" FILE_("a/") "]", "not a relative path"), "a trailing slash is refused");
	ok(refused("[" FILE_("a") "," FILE_("a") "]", "listed twice"), "a file listed twice is refused");
	ok(refused("[{\"type\":\"file\",\"oid\":\"XYZ\",\"size\":1,\"path\":\"a\"}]", "no size or git id"),
	   "a git id that is not hex is refused");
	ok(refused("[{\"type\":\"file\",\"oid\":\"" GIT "\",\"size\":-1,\"path\":\"a\"}]", "no size or git id"),
	   "a negative size is refused");
	ok(refused("[{\"type\":\"file\",\"oid\":\"" GIT "\",\"size\":2,\"path\":\"a\",\"lfs\":{\"oid\":\"" SHA
		   "\",\"size\":3}}]", "another size"), "an LFS size that differs is refused");
	ok(refused("[{\"type\":\"file\",\"oid\":\"" GIT "\",\"size\":2,\"path\":\"a\",\"lfs\":{\"oid\":\"abc\","
		   "\"size\":2}}]", "no SHA-256"), "a short SHA-256 is refused");
	ok(refused("{\"error\":\"Repository not found\"}", "not a list of files"), "an object is refused");
	ok(refused("[1]", "is not {"), "an entry that is not an object is refused");
	ok(refused("<html>", "not JSON"), "HTML is refused");

	char url[256];
	ok(od_hub_next_link("<https://h/api?cursor=2>; rel=\"next\"", url, sizeof url) == 1 &&
	   !strcmp(url, "https://h/api?cursor=2"), "Link: the next page");
	ok(od_hub_next_link("<https://h/p>; rel=\"prev\", <https://h/n>; rel=\"next\"", url, sizeof url) == 1 &&
	   !strcmp(url, "https://h/n"), "Link: next after prev");
	ok(od_hub_next_link("<https://h/p>; rel=\"prev\"", url, sizeof url) == 0, "Link: no next page");
	ok(od_hub_next_link("garbage", url, sizeof url) == 0, "Link: garbage is no next page");
	ok(od_hub_next_link("<https://h/a-very-long-url>; rel=\"next\"", url, 8) == OD_EFORMAT,
	   "Link: a next page too long is refused");
	return tap_done();
}
