/*
 * frame_safetensors.h: frame streams to and from .safetensors, so that Python
 * users and tests can inspect any stream (od-frame(1) to-safetensors and
 * from-safetensors).
 *
 * A stream written as safetensors holds, for frame N (from 0):
 *   tensor "frame.N"        the data, in the frame's dtype and shape
 *   tensor "frame.N.mask"   U8 (shape[0]), when the frame has a mask plane
 *   metadata "frame.N"      JSON {"kind": "latent", "role": "condition",
 *                           "shape": [...], "meta": {"key": "value", ...}}
 *   metadata "od.frames"    the number of frames
 * A placeholder frame has metadata and no tensor.
 */
#ifndef OD_FRAME_SAFETENSORS_H
#define OD_FRAME_SAFETENSORS_H

#include "formats/frame.h"
#include "formats/safetensors.h"

/* Write n frames to out as one safetensors file. */
int od_frames_write_safetensors(struct od_out *out, const struct od_frame *frames, int n);

/* Read the frames of a file written by od_frames_write_safetensors. */
int od_frames_read_safetensors(const struct od_safetensors *st, struct od_frame **frames, int *n);

/* Make frames from one tensor of any safetensors file: any numeric dtype is
 * converted to `dtype`; leading dimensions of size 1 are dropped when squeeze is
 * set; with split, each index of the first remaining dimension becomes its own
 * frame. mask_tensor (may be NULL) supplies mask planes, split the same way.
 * roles[i] gives frame i's role (the last entry repeats). */
int od_frames_from_tensor(const struct od_safetensors *st, const char *tensor, const char *mask_tensor,
			  enum od_kind kind, const enum od_role *roles, int n_roles, enum od_dtype dtype,
			  int squeeze, int split, struct od_frame **frames, int *n);

#endif
