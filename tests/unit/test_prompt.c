/*
 * test_prompt: the prompt builders and region parsing of lib/text/prompt.c
 * (numerics.md §6.1, §6.2): formats, the colour list, and the refusals.
 * The exact upstream example strings are checked through od-tag in
 * tests/t0330-prompts.sh.
 */
#include "od.h"
#include "text/prompt.h"
#include "tap.h"

#include <stdlib.h>
#include <string.h>

static int built(const struct od_prompt_parts *p, const char *want)
{
	char *s = NULL;
	int rc = od_prompt_build(p, &s);
	int good = !rc && !strcmp(s, want);
	if (!good)
		printf("# got '%s' (%s)\n# want '%s'\n", s ? s : "", rc ? od_errmsg() : "", want);
	free(s);
	return good;
}

int main(void)
{
	char tag[64];
	ok(od_prompt_leading_tag("[[faceid]] [[img0]] x", tag, sizeof tag) == 6 && !strcmp(tag, "faceid"),
	   "leading tag");
	ok(od_prompt_leading_tag("a [[faceid]]", tag, sizeof tag) < 0 && od_prompt_leading_tag("[[]] x", tag, 64) < 0 &&
		   od_prompt_leading_tag("[[a b]] x", tag, 64) < 0 && od_prompt_leading_tag("[[open", tag, 64) < 0,
	   "no leading tag");
	ok(od_task_find("hed2img") == OD_TASK_HED && od_task_find("hed2image") < 0 && od_task_find("") < 0,
	   "task names are the upstream tags, exactly");
	int tags_ok = 1;
	for (int i = 0; i < OD_TASK_COUNT; i++)
		tags_ok &= od_task_find(od_tasks[i].tag) == i && od_tasks[i].layout[0] == '[';
	ok(tags_ok, "13 tasks, each with a frame layout");

	struct od_region r[3];
	ok(!od_region_parse("#00ffff=Cyan:dragon", &r[0]) && !strcmp(r[0].hex, "#00ffff") && !strcmp(r[0].name, "Cyan") &&
		   !strcmp(r[0].object, "dragon") && !r[0].name_differs,
	   "#hex=Name:object keeps both as written");
	ok(!od_region_parse(" #FF0000 = yellow : bird ", &r[1]) && !strcmp(r[1].name, "yellow") && r[1].name_differs &&
		   !strcmp(r[1].object, "bird"),
	   "a name other than the listed one is flagged, blanks trimmed");
	ok(!od_region_parse("orchid:person/on/bike", &r[2]) && !strcmp(r[2].hex, "#DA70D6") &&
		   !strcmp(r[2].name, "orchid") && !strcmp(r[2].object, "person/on/bike"),
	   "a listed name gets its hex");
	struct od_region bad;
	ok(od_region_parse("#123456:x", &bad) == OD_EINVAL && strstr(od_errmsg(), "not one of the 20"),
	   "an unlisted colour is refused (%s)", od_errmsg());
	ok(od_region_parse("#12345:x", &bad) == OD_EINVAL, "a short hex is refused (%s)", od_errmsg());
	ok(od_region_parse("cyan", &bad) == OD_EINVAL, "no ':' is refused (%s)", od_errmsg());
	ok(od_region_parse("cyan:", &bad) == OD_EINVAL, "no object is refused (%s)", od_errmsg());
	ok(od_region_parse("cyan:a>b", &bad) == OD_EINVAL, "'>' in the object is refused (%s)", od_errmsg());
	ok(od_region_parse("#00ffff=:a", &bad) == OD_EINVAL, "an empty name is refused (%s)", od_errmsg());

	struct od_prompt_parts p = { .task = OD_TASK_SEMANTICMAP, .caption = "A woman", .regions = r, .n_regions = 3 };
	ok(built(&p, "[[semanticmap2image]] <#00ffff Cyan mask: dragon> <#FF0000 yellow mask: bird> "
		     "<#DA70D6 orchid mask: person/on/bike> A woman"),
	   "semantic map prompt");
	p.task = OD_TASK_BOUNDINGBOX;
	p.n_regions = 1;
	p.caption = "";
	ok(built(&p, "[[boundingbox2image]] <#00ffff Cyan boundingbox: dragon>"), "bounding box prompt, no caption");
	const char *refs[] = { "r1", "r2", "r3", "r4" };
	struct od_prompt_parts f = { .task = OD_TASK_FACEID, .caption = "t", .refs = refs, .n_refs = 3 };
	ok(built(&f, "[[faceid]] [[img0]] t [[img1]] r1 [[img2]] r2 [[img3]] r3"), "faceid prompt");
	f.n_refs = 0;
	char *s;
	ok(od_prompt_build(&f, &s) == OD_EINVAL && strstr(od_errmsg(), "1 to 3"), "faceid without refs (%s)",
	   od_errmsg());
	f.n_refs = 4;
	ok(od_prompt_build(&f, &s) == OD_EINVAL, "faceid with 4 refs (%s)", od_errmsg());
	struct od_prompt_parts sd = { .task = OD_TASK_SUBJECT, .caption = "t", .refs = refs, .n_refs = 1, .item = "dog" };
	ok(built(&sd, "[[subject_driven]] <item: dog> [[img0]] t [[img1]] r1"), "subject-driven prompt");
	sd.item = NULL;
	ok(od_prompt_build(&sd, &s) == OD_EINVAL, "subject-driven without item (%s)", od_errmsg());
	struct od_prompt_parts g = { .task = OD_TASK_DEPTH, .caption = "" };
	ok(built(&g, "[[depth2image]]"), "bare tag");
	g.caption = " two  spaces ";
	ok(built(&g, "[[depth2image]]  two  spaces "), "captions are kept as given");
	g.n_refs = 1;
	g.refs = refs;
	ok(od_prompt_build(&g, &s) == OD_EINVAL, "refs for a task without them (%s)", od_errmsg());
	g.n_refs = 0;
	g.regions = r;
	g.n_regions = 1;
	ok(od_prompt_build(&g, &s) == OD_EINVAL, "regions for a task without them (%s)", od_errmsg());
	ok(strlen(od_standard_negative) == 394 && !strncmp(od_standard_negative, "monochrome, greyscale, low-res", 30) &&
		   !strcmp(od_standard_negative + 384, "amputation"),
	   "NEGATIVE_PROMPT");
	return tap_done();
}
