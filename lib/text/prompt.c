/*
 * prompt.c: task tags and prompt builders (see prompt.h; numerics.md §6.1,
 * §6.2, §5.3).
 */
#include "text/prompt.h"
#include "base/error.h"
#include "base/textbuf.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* numerics.md §6.1. Frame 0 is always the RGB
 * image; the direction of a task is chosen by the denoise mask only. */
const struct od_task_info od_tasks[OD_TASK_COUNT] = {
	[OD_TASK_TEXT2IMAGE] = { "text2image", "text -> image", "[image]", "(one frame)", 0, 0, 0, 0, 0 },
	[OD_TASK_DEBLURRING] = { "deblurring", "deblurring", "[sharp, blurred]", "[1,0]", 0, 0, 0, 0, 1 },
	[OD_TASK_INPAINTING] = { "image_inpainting", "inpainting", "[output, masked input]", "[1,0]", 0, 0, 0, 0, 1 },
	[OD_TASK_CANNY] = { "canny2image", "canny <-> image", "[RGB, canny]",
			    "[1,0] canny->image; [0,1] image->canny", 0, 0, 0, 0, 1 },
	[OD_TASK_DEPTH] = { "depth2image", "depth <-> image", "[RGB, depth]",
			    "[1,0] depth->image; [0,1] image->depth", 0, 0, 0, 0, 1 },
	[OD_TASK_HED] = { "hed2img", "HED <-> image", "[RGB, HED]", "[1,0] HED->image; [0,1] image->HED", 0, 0, 0, 0, 1 },
	[OD_TASK_POSE] = { "pose2image", "pose <-> image", "[RGB, pose map]", "[1,0] pose->image; [0,1] image->pose",
			   0, 0, 0, 0, 1 },
	[OD_TASK_SEMANTICMAP] = { "semanticmap2image", "semantic map <-> image", "[RGB, colour mask map]",
				  "[1,0] map->image; [0,1] segmentation", 0, 0, 1, 0, 1 },
	[OD_TASK_BOUNDINGBOX] = { "boundingbox2image", "bounding boxes <-> image", "[RGB, box map]",
				  "[1,0] boxes->image; [0,1] detection", 0, 0, 2, 0, 1 },
	[OD_TASK_EDITING] = { "image_editing", "instruction editing", "[edited, source]", "[1,0]", 0, 0, 0, 0, 1 },
	[OD_TASK_FACEID] = { "faceid", "ID customisation", "[target, ref1, ref2, ref3]", "[1,0,0,0] (1-3 refs)", 1, 3,
			     0, 0, 0 },
	[OD_TASK_SUBJECT] = { "subject_driven", "subject-driven", "[target, subject image]", "[1,0]", 1, 1, 0, 1, 0 },
	[OD_TASK_MULTIVIEW] = { "multiview", "multiview / pose estimation", "[img0, ray0, img1, ray1, ...]",
				"per view (doc/numerics.md §7.4)", 0, 0, 0, 0, 0 },
};

const struct od_color od_colors[OD_N_COLORS] = {
	{ "#FF0000", "red" },       { "#00FF00", "lime" },      { "#0000FF", "blue" },       { "#FFFF00", "yellow" },
	{ "#FF00FF", "magenta" },   { "#00FFFF", "cyan" },      { "#FFA500", "orange" },     { "#800080", "purple" },
	{ "#A52A2A", "brown" },     { "#008000", "green" },     { "#FFC0CB", "pink" },       { "#008080", "teal" },
	{ "#FF8C00", "darkorange" }, { "#8A2BE2", "blueviolet" }, { "#006400", "darkgreen" }, { "#FF4500", "orangered" },
	{ "#000080", "navy" },      { "#FFD700", "gold" },      { "#40E0D0", "turquoise" },  { "#DA70D6", "orchid" },
};

const char od_standard_negative[] =
	"monochrome, greyscale, low-res, bad anatomy, bad hands, text, error, missing fingers, extra digit, fewer "
	"digits, cropped, worst quality, low quality, normal quality, jpeg artifacts, signature, watermark, username, "
	"blurry, artist name, poorly drawn, bad anatomy, wrong anatomy, extra limb, missing limb, floating limbs, "
	"disconnected limbs, mutation, mutated, ugly, disgusting, blurry, amputation";

int od_task_find(const char *name)
{
	for (int i = 0; i < OD_TASK_COUNT; i++)
		if (!strcmp(od_tasks[i].tag, name))
			return i;
	return -1;
}

int od_prompt_leading_tag(const char *text, char *tag, size_t size)
{
	if (strncmp(text, "[[", 2))
		return -1;
	const char *end = strstr(text + 2, "]]");
	if (!end || end == text + 2)
		return -1;
	size_t n = (size_t)(end - text - 2);
	for (size_t i = 0; i < n; i++)
		if (text[2 + i] == '[' || text[2 + i] == ']' || isspace((unsigned char)text[2 + i]))
			return -1;
	if (size) {
		size_t k = n < size - 1 ? n : size - 1;
		memcpy(tag, text + 2, k);
		tag[k] = 0;
	}
	return (int)n;
}

/* Copy s[0..n) without surrounding ASCII blanks into dst (size bytes). */
static int copy_trim(char *dst, size_t size, const char *s, size_t n)
{
	while (n && isspace((unsigned char)*s))
		s++, n--;
	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	if (n >= size)
		return -1;
	memcpy(dst, s, n);
	dst[n] = 0;
	return (int)n;
}

int od_region_parse(const char *spec, struct od_region *r)
{
	memset(r, 0, sizeof *r);
	const char *colon = strchr(spec, ':');
	if (!colon)
		return od_error(OD_EINVAL, "'%s' is not COLOUR:OBJECT", spec);
	char colour[128];
	if (copy_trim(colour, sizeof colour, spec, (size_t)(colon - spec)) <= 0)
		return od_error(OD_EINVAL, "'%s': no colour before ':'", spec);
	int n = copy_trim(r->object, sizeof r->object, colon + 1, strlen(colon + 1));
	if (n < 0)
		return od_error(OD_EINVAL, "'%s': the object is longer than %zu bytes", spec, sizeof r->object - 1);
	if (n == 0)
		return od_error(OD_EINVAL, "'%s': no object after ':'", spec);
	if (strpbrk(r->object, "<>"))
		return od_error(OD_EINVAL, "'%s': the object must not contain '<' or '>'", spec);
	r->color = -1;
	if (colour[0] == '#') {
		char *eq = strchr(colour, '=');
		size_t hl = eq ? (size_t)(eq - colour) : strlen(colour);
		while (hl && isspace((unsigned char)colour[hl - 1]))
			hl--;
		int hex = hl == 7;
		for (size_t i = 1; hex && i < 7; i++)
			hex = isxdigit((unsigned char)colour[i]);
		if (!hex)
			return od_error(OD_EINVAL, "'%.*s' is not a colour #RRGGBB", (int)hl, colour);
		memcpy(r->hex, colour, 7);
		for (int i = 0; i < OD_N_COLORS; i++)
			if (!strncasecmp(od_colors[i].hex, colour, 7))
				r->color = i;
		if (r->color < 0)
			return od_error(OD_EINVAL, "colour %s is not one of the 20 colours OneDiffusion knows "
					"(doc/numerics.md §6.2; od-tag --list-colors)", r->hex);
		if (eq) {
			int k = copy_trim(r->name, sizeof r->name, eq + 1, strlen(eq + 1));
			if (k <= 0)
				return od_error(OD_EINVAL, "'%s': no colour name after '='", colour);
			if (strpbrk(r->name, "<> \t"))
				return od_error(OD_EINVAL, "'%s': a colour name is one word", colour);
			r->name_differs = strcasecmp(r->name, od_colors[r->color].name) != 0;
		} else {
			strcpy(r->name, od_colors[r->color].name);
		}
	} else {
		for (int i = 0; i < OD_N_COLORS; i++)
			if (!strcasecmp(od_colors[i].name, colour))
				r->color = i;
		if (r->color < 0)
			return od_error(OD_EINVAL, "colour '%s' is not one of the 20 colours OneDiffusion knows "
					"(doc/numerics.md §6.2; od-tag --list-colors)", colour);
		strcpy(r->hex, od_colors[r->color].hex);
		if (strlen(colour) >= sizeof r->name)
			return od_error(OD_EINVAL, "'%s': colour name too long", colour);
		strcpy(r->name, colour);
	}
	return OD_OK;
}

/* Append a part: one space before it unless it is the first; empty parts
 * are left out. */
static void part(struct od_tbuf *b, const char *s)
{
	if (!s || !*s)
		return;
	if (b->n)
		od_tbuf_puts(b, " ");
	od_tbuf_puts(b, s);
}

int od_prompt_build(const struct od_prompt_parts *p, char **out)
{
	*out = NULL;
	if ((int)p->task < 0 || p->task >= OD_TASK_COUNT)
		return od_error(OD_EINVAL, "unknown task %d", (int)p->task);
	const struct od_task_info *ti = &od_tasks[p->task];
	if (p->n_refs < ti->min_refs || p->n_refs > ti->max_refs) {
		if (!ti->max_refs)
			return od_error(OD_EINVAL, "task %s takes no reference captions", ti->tag);
		if (ti->min_refs == ti->max_refs)
			return od_error(OD_EINVAL, "task %s needs %d reference caption%s (one per reference image), got %d",
					ti->tag, ti->min_refs, ti->min_refs == 1 ? "" : "s", p->n_refs);
		return od_error(OD_EINVAL, "task %s needs %d to %d reference captions (one per reference image), got %d",
				ti->tag, ti->min_refs, ti->max_refs, p->n_refs);
	}
	if (ti->regions && !p->n_regions)
		return od_error(OD_EINVAL, "task %s needs at least one %s", ti->tag,
				ti->regions == 1 ? "mask region (COLOUR:OBJECT)" : "bounding box (COLOUR:OBJECT)");
	if (!ti->regions && p->n_regions)
		return od_error(OD_EINVAL, "task %s takes no regions", ti->tag);
	if (ti->item && (!p->item || !*p->item))
		return od_error(OD_EINVAL, "task %s needs an item name", ti->tag);
	if (!ti->item && p->item)
		return od_error(OD_EINVAL, "task %s takes no item name", ti->tag);
	if (p->item && strpbrk(p->item, "<>"))
		return od_error(OD_EINVAL, "the item name must not contain '<' or '>'");

	struct od_tbuf b = { 0 };
	char tag[128];
	snprintf(tag, sizeof tag, "[[%s]]", ti->tag);
	part(&b, tag);
	for (int i = 0; i < p->n_regions; i++) {
		const struct od_region *r = &p->regions[i];
		char buf[1200];
		snprintf(buf, sizeof buf, "<%s %s %s: %s>", r->hex, r->name, ti->regions == 1 ? "mask" : "boundingbox",
			 r->object);
		part(&b, buf);
	}
	if (ti->item) {
		part(&b, "<item: ");
		od_tbuf_puts(&b, p->item);
		od_tbuf_puts(&b, ">");
	}
	if (ti->max_refs) { /* [[img0]] target [[img1]] ref1 ... (numerics.md §6.2) */
		part(&b, "[[img0]]");
		part(&b, p->caption);
		for (int i = 0; i < p->n_refs; i++) {
			snprintf(tag, sizeof tag, "[[img%d]]", i + 1);
			part(&b, tag);
			part(&b, p->refs[i]);
		}
	} else {
		part(&b, p->caption);
	}
	if (b.oom) {
		od_tbuf_free(&b);
		return od_error(OD_ENOMEM, "out of memory");
	}
	*out = b.s;
	return OD_OK;
}
