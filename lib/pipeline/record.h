/*
 * record.h: what a generated picture records about how it was made.
 *
 * od-denoise leaves every parameter of a run on the frames it generates
 * (job.h, od_job_outputs); od-decode writes them into the picture, one PNG
 * text chunk per key, and adds the two forms other programs read:
 *
 *   od_meta_parameters   the "parameters" text chunk of the AUTOMATIC1111
 *                        web UI, which image viewers, web UIs and metadata
 *                        tools show and parse:
 *
 *                          PROMPT
 *                          Negative prompt: NEGATIVE
 *                          Steps: 50, Sampler: Euler, CFG scale: 4, Seed: 42, Size: 1024x1024, Model: NAME, ...
 *
 *                        (the last line "Key: value" pairs separated by
 *                        ", "; a value holding ',', ':' or '"' or a line
 *                        break is quoted as a JSON string, as the web UI
 *                        does)
 *   od_meta_json         every key as a JSON object, for --json sidecars
 */
#ifndef OD_RECORD_H
#define OD_RECORD_H

#include "formats/frame.h"

/* The "parameters" text of meta (malloc'd), or NULL with *out unset when meta
 * records no run (no "steps": a picture that was not generated). Returns OD_OK
 * or OD_ENOMEM. */
int od_meta_parameters(const struct od_meta_entry *meta, int n, char **out);

/* meta as a JSON object, every value a string as recorded, keys in order,
 * indented, with a final newline (malloc'd). */
int od_meta_json(const struct od_meta_entry *meta, int n, char **out);

#endif
