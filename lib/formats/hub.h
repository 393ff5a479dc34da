/*
 * hub.h: downloading a model from the Hugging Face hub (od-model pull).
 *
 * Two public endpoints of the hub, over HTTPS with libcurl:
 *
 *   GET {endpoint}/api/models/{repo}/tree/{revision}?recursive=true
 *       the repository's files, as a JSON array of entries
 *       {"type": "file", "path": ..., "size": N, "oid": GIT-BLOB-SHA1,
 *        "lfs": {"oid": SHA256, "size": N, "pointerSize": P}}
 *       ("lfs" only for files stored in Git LFS, the weights), in pages:
 *       a response with more to come names the next page in its Link
 *       header, rel="next" (od_hub_next_link)
 *   GET {endpoint}/{repo}/resolve/{revision}/{path}
 *       a file's content (the hub redirects LFS files to its CDN), with
 *       Range requests for resuming
 *
 * Every file is checked against that metadata: its size, and the SHA-256 of
 * its content for an LFS file or its git blob id (SHA-1 of "blob SIZE\0" and
 * the content) for the others. A download goes to DIR.partial/PATH.part,
 * which a later run resumes from where it stopped; a verified file is renamed
 * to DIR.partial/PATH; DIR.partial becomes DIR when every file is there. So
 * DIR exists only complete and verified: a partial download is never taken
 * for a model.
 *
 * Errors: OD_EIO for the network and HTTP failures ("'URL': HTTP 404") and
 * files that cannot be written; OD_EFORMAT for a file that does not match the
 * hub's metadata (its .part is removed, so that the next run fetches it
 * again) and for metadata od cannot read; OD_EINVAL for a folder in the way.
 */
#ifndef OD_HUB_H
#define OD_HUB_H

#include <stddef.h>
#include <stdint.h>

#define OD_HUB_ENDPOINT "https://huggingface.co"

struct od_hub_file {
	char *path;          /* relative, checked: no "..", ".", empty or absolute parts */
	uint64_t size;
	char sha256[65];     /* an LFS file: its content's SHA-256, else "" */
	char git_oid[41];    /* the git blob id (every file has one) */
};

/* What od_hub_pull reports as it goes (progress displays). */
struct od_hub_status {
	const char *path;    /* the file being fetched */
	int index, n_files;  /* from 0 */
	uint64_t done, size; /* bytes of this file */
	uint64_t done_all, size_all;
	int resumed;         /* the file continues a partial download */
};

struct od_hub_opts {
	const char *endpoint;           /* NULL: OD_HUB_ENDPOINT */
	const char *repo;               /* "lehduong/OneDiffusion" */
	const char *revision;           /* NULL: "main" */
	const char *token;              /* an access token (Authorization: Bearer), or NULL */
	const char *const *include;     /* fnmatch patterns on paths; n_include 0: every file */
	int n_include;
	void (*progress)(void *user, const struct od_hub_status *st);
	void *user;
};

/* Parse one page of the tree endpoint's JSON (label names it in messages):
 * the "file" entries, appended to *files (*n of them so far). */
int od_hub_parse_tree(const char *json, size_t len, const char *label, struct od_hub_file **files, int *n);
/* The URL of rel="next" in a Link header value: 1 (copied to url), 0 (none),
 * or OD_EFORMAT when it does not fit. */
int od_hub_next_link(const char *link, char *url, size_t size);
void od_hub_files_free(struct od_hub_file *files, int n);

/* Every file of the repository that the include patterns select. */
int od_hub_list(const struct od_hub_opts *o, struct od_hub_file **files, int *n);

/* What od_hub_pull did. */
struct od_hub_result {
	int n_files, n_fetched, n_resumed;
	uint64_t bytes;      /* the selected files' size */
	int up_to_date;      /* dir already held every file, of the right size */
};

/* Download the selected files into dir, as above. A dir that exists is left
 * alone: up to date when it holds every file at its size, else OD_EINVAL. */
int od_hub_pull(const struct od_hub_opts *o, const char *dir, struct od_hub_result *r);

#endif
