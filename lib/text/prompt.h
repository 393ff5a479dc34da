/*
 * prompt.h: OneDiffusion's task tags and prompt formats (numerics.md §6.1,
 * §6.2), and the standard negative prompt (§5.3).
 *
 * The prompt is plain text that goes to T5 verbatim; the task is chosen by a
 * leading tag such as "[[depth2image]]" and, for some tasks, by structured
 * parts:
 *
 *   generic          [[TAG]] caption            ("[[TAG]]" alone if no caption)
 *   semantic map     [[semanticmap2image]] <#00ffff cyan mask: dragon> ... caption
 *   bounding boxes   [[boundingbox2image]] <#00FFFF cyan boundingbox: dog> ... caption
 *   ID customisation [[faceid]] [[img0]] target [[img1]] ref1 [[img2]] ref2 [[img3]] ref3
 *   subject-driven   [[subject_driven]] <item: NAME> [[img0]] target [[img1]] source
 *
 * od_prompt_build() assembles these from parts (parts joined by one space,
 * captions kept exactly as given, so the upstream example strings come out
 * byte for byte). Region colours must be one of the 20 colours the prompt
 * guide lists (§6.2).
 */
#ifndef OD_PROMPT_H
#define OD_PROMPT_H

#include <stddef.h>

enum od_task {
	OD_TASK_TEXT2IMAGE,
	OD_TASK_DEBLURRING,
	OD_TASK_INPAINTING,
	OD_TASK_CANNY,
	OD_TASK_DEPTH,
	OD_TASK_HED,
	OD_TASK_POSE,
	OD_TASK_SEMANTICMAP,
	OD_TASK_BOUNDINGBOX,
	OD_TASK_EDITING,
	OD_TASK_FACEID,
	OD_TASK_SUBJECT,
	OD_TASK_MULTIVIEW,
	OD_TASK_COUNT
};

struct od_task_info {
	const char *tag;      /* the name inside [[...]]: "depth2image" */
	const char *what;     /* "depth <-> image" */
	const char *layout;   /* frame layout: "[RGB, depth]" */
	const char *masks;    /* typical denoise masks: "[1,0] depth->image; [0,1] image->depth" */
	int min_refs, max_refs; /* reference captions ([[img1]]..) the prompt takes */
	int regions;          /* 1: mask regions, 2: bounding boxes, 0: none */
	int item;             /* needs <item: NAME> */
	int aligned;          /* its frames show one scene pixel for pixel (a map and its
			       * picture, an edit and its source): a generated frame takes
			       * the size of the picture it was made from (od_job_outputs) */
};

extern const struct od_task_info od_tasks[OD_TASK_COUNT];

/* The task whose tag is name (exact), or -1. */
int od_task_find(const char *name);

/* If text starts with "[[NAME]]", copy NAME into tag (truncated to size) and
 * return its length; else return -1. The task is od_task_find(tag). */
int od_prompt_leading_tag(const char *text, char *tag, size_t size);

/* The allowed region colours (numerics.md §6.2; upstream's PROMPT_GUIDE.md). */
struct od_color {
	const char *hex;  /* "#00FFFF" */
	const char *name; /* "cyan" */
};
#define OD_N_COLORS 20
extern const struct od_color od_colors[OD_N_COLORS];

/* A region of a semantic map or a bounding box: "<HEX NAME mask: OBJECT>". */
struct od_region {
	char hex[8];          /* as written in the prompt: "#00ffff" */
	char name[64];        /* as written in the prompt: "Cyan" */
	char object[1024];
	int color;            /* index in od_colors */
	int name_differs;     /* the name given is not the listed name of hex */
};

/* Parse "COLOUR:OBJECT", COLOUR being "#RRGGBB" (listed name used),
 * "#RRGGBB=NAME" (NAME written as given, e.g. upstream's "#ff0000 yellow"),
 * or a listed NAME (its hex used). Hex digits and names match without regard
 * to case and are written as given. OD_EINVAL with a message otherwise. */
int od_region_parse(const char *spec, struct od_region *r);

struct od_prompt_parts {
	enum od_task task;
	const char *caption;         /* the target caption ([[img0]] for faceid and subject_driven); may be "" */
	const char *const *refs;     /* reference captions: [[img1]], [[img2]], ... */
	int n_refs;
	const char *item;            /* subject_driven: the item name */
	const struct od_region *regions;
	int n_regions;
};

/* Build the prompt string (malloc'd into *out). OD_EINVAL with a message
 * when the parts do not fit the task (a reference count outside the task's
 * range, no region for a region task, a missing item, parts a task does not
 * take). */
int od_prompt_build(const struct od_prompt_parts *p, char **out);

/* NEGATIVE_PROMPT of upstream's inference.py and gradio_demo.py (numerics.md §5.3). */
extern const char od_standard_negative[];

#endif
