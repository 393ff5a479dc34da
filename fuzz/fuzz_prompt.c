/*
 * fuzz_prompt: the prompt builder's option parsing (text/prompt.c) on
 * arbitrary text, as od-tag hands it over: --task names, --mask/--box region
 * specs (COLOUR:OBJECT), a leading [[tag]] of a raw prompt, and the prompt
 * assembly from a task, regions, an item, reference captions and a caption.
 *
 * The input is split at NUL bytes: the first field picks the task (its first
 * byte), the others are tried as region specs, item, references and caption.
 * Every call either succeeds or returns OD_EINVAL with a message; a region
 * that parses has a listed colour and fields that fit their buffers; a built
 * prompt starts with its task's tag and holds every caption it was given.
 * abort() on a violation. Seeds (fuzz/seeds/fuzz_prompt/): od-tag's own
 * region and task examples.
 */
#include "text/prompt.h"
#include "base/error.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FIELDS 12

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 8192)
		return 0;
	char *buf = malloc(size + 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = 0;
	const char *field[MAX_FIELDS];
	int n = 0;
	for (size_t i = 0; i <= size && n < MAX_FIELDS;) {
		field[n++] = buf + i;
		i += strlen(buf + i) + 1;
	}
	/* task names and leading tags */
	for (int i = 0; i < n; i++) {
		int t = od_task_find(field[i]);
		if (t >= OD_TASK_COUNT || (t >= 0 && strcmp(od_tasks[t].tag, field[i])))
			abort();
		char tag[64];
		int len = od_prompt_leading_tag(field[i], tag, sizeof tag);
		if (len >= 0 && (strlen(tag) >= sizeof tag || strncmp(field[i], "[[", 2)))
			abort();
	}
	/* regions */
	struct od_region regions[4];
	int n_regions = 0;
	for (int i = 1; i < n && n_regions < 4; i++) {
		struct od_region r;
		od_error_clear();
		int rc = od_region_parse(field[i], &r);
		if (rc == OD_OK) {
			if (r.color < 0 || r.color >= OD_N_COLORS || strlen(r.hex) != 7 || r.hex[0] != '#' ||
			    !r.object[0] || strpbrk(r.object, "<>"))
				abort();
			regions[n_regions++] = r;
		} else if (rc != OD_EINVAL || !od_errmsg()[0]) {
			abort();
		}
	}
	/* the prompt */
	const char *refs[4];
	int n_refs = 0;
	for (int i = 2; i < n && n_refs < 4; i++)
		refs[n_refs++] = field[i];
	struct od_prompt_parts p = {
		.task = (enum od_task)(size ? (unsigned char)buf[0] % OD_TASK_COUNT : 0),
		.caption = n > 1 ? field[n - 1] : "",
		.refs = refs,
		.n_refs = size > 1 ? (unsigned char)buf[1] % (n_refs + 1) : 0,
		.item = n > 2 && size > 2 && (buf[2] & 1) ? field[1] : NULL,
		.regions = regions,
		.n_regions = size > 3 ? (unsigned char)buf[3] % (n_regions + 1) : 0,
	};
	char *out;
	od_error_clear();
	int rc = od_prompt_build(&p, &out);
	if (rc == OD_OK) {
		char tag[128];
		snprintf(tag, sizeof tag, "[[%s]]", od_tasks[p.task].tag);
		if (strncmp(out, tag, strlen(tag)) || (p.caption[0] && !strstr(out, p.caption)))
			abort();
		for (int i = 0; i < p.n_refs; i++)
			if (refs[i][0] && !strstr(out, refs[i]))
				abort();
		free(out);
	} else if (rc != OD_EINVAL || !od_errmsg()[0]) {
		abort();
	}
	free(buf);
	return 0;
}
