/*
 * batch.h: a batch split over many processes and machines: shards, a job's
 * identity, and output names made from it (od-frame(5) "Jobs", od-decode(1)
 * "Output names").
 *
 * A batch is jobs numbered 0, 1, 2, ... by the first tool of the pipeline
 * (od-tag: prompts in input order; od-encode: pictures in input order); the
 * number travels in every frame's `job` metadata and decides the job's seed
 * (job.h). A shard I/N is the jobs whose number J has J mod N == I: a shard is
 * decided from J alone, so the first tool of a pipeline can select its shard
 * in one pass over input of unknown length (a prompt file on a pipe), and
 * shards stay balanced when the cost of jobs drifts along the input (pictures
 * sorted by size, prompts by topic), which contiguous ranges would not.
 *
 * A job's identity, `id`, names it in a human way: od-encode's pictures that
 * are jobs of their own take their file's stem ("IMG_0042" for
 * photos/IMG_0042.jpg), od-tag's prompt lines "LINE-HASH", the line number
 * (6 digits at least) and the first 8 hex digits of the line's SHA-256
 * ("000042-3fa2c1d9"). od-denoise copies it onto what it generates.
 *
 * Output names: a pattern holds %d (the picture's number in this run, as
 * printf prints it: %d, %03d, %-4d is refused) and %{KEY} (the frame's
 * metadata KEY; %{source} is the stem of the first of its source files),
 * %0N{KEY} padding the value with zeros to N characters, and %% for a
 * percent sign. A value from metadata becomes exactly one name component: an
 * empty value, ".", "..", or one holding '/', a control character or more
 * than 255 bytes is refused, so metadata can never name a file outside the
 * folder the pattern names.
 */
#ifndef OD_BATCH_H
#define OD_BATCH_H

#include "formats/frame.h"

#include <stddef.h>

struct od_shard {
	long i, n; /* shard i of n, 0 <= i < n; n == 1: the whole batch */
};

/* "I/N" with 0 <= I < N <= 1000000. OD_EINVAL: "'4/4': the shard number must
 * be from 0 to 3" and the like. */
int od_shard_parse(const char *s, struct od_shard *sh);
/* Whether job J is in the shard. */
int od_shard_has(const struct od_shard *sh, long job);

/* A frame's job number (its `job` metadata): 1 with *job set, 0 when the
 * frame has none, OD_EFORMAT when the value is not a number from 0. */
int od_frame_job(const struct od_frame *f, long *job);

/* od-tag's identity of prompt line `line` (from 1) with text s:
 * "000042-3fa2c1d9" into buf (at least 32 bytes). */
void od_prompt_id(long line, const char *s, char *buf, size_t size);
/* The stem of a path: "photos/IMG_0042.jpg" -> "IMG_0042" into buf. */
void od_path_stem(const char *path, char *buf, size_t size);

/* What a pattern holds. */
enum { OD_NAME_NUMBER = 1, OD_NAME_META = 2 };

/* Check an output name pattern: 0 (a plain name), or OD_NAME_NUMBER and
 * OD_NAME_META or'ed; OD_EINVAL for a bad pattern ("'%s': %x is not %d,
 * %{KEY} or %%", "more than one %d", "'%{' without '}'", ...). */
int od_name_check(const char *pattern);
/* Expand a checked pattern for picture `number` whose frame has meta[0..n).
 * OD_EFORMAT (naming `where`, "'x.odf': frame 3") when a key is missing or
 * its value is not a safe name component; OD_EINVAL when the name does not
 * fit in size bytes. */
int od_name_expand(const char *pattern, long number, const struct od_meta_entry *meta, int n, const char *where,
		   char *out, size_t size);

#endif
