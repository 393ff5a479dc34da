/*
 * od.h: libod, OneDiffusion in C. Include this one header; it is also the map
 * of the library (lib/README.md says the same in prose).
 *
 * lib/ has one folder per layer, lowest first. A file includes headers of its
 * own layer and of the layers listed before it, never after, and every include
 * names its layer ("model/nextdit.h"), so the dependencies can be read off the
 * include lines.
 *
 *   base/       error.h (status codes, the thread's last message), tensor.h
 *               (element types, views, conversions, non-finite checks), io.h
 *               (atomic outputs and groups of them, the cleanup registry,
 *               exact reads, maps), parallel.h (thread pool), rng.h (torch's
 *               CPU normal noise), blas.h (OpenBLAS kernels and buffers), linalg3.h
 *               (3x3 SVD and friends), sha.h (SHA-256, SHA-1), textbuf.h (a
 *               growing text buffer, CSV/JSON/Markdown escaping); fastmath.h
 *               is private
 *   formats/    what crosses the process boundary: frame.h (the frame stream,
 *               od-frame(5)), frame_safetensors.h, safetensors.h,
 *               checkpoint.h (Hugging Face component folders), config.h (JSON
 *               files and typed getters), image.h (PNG/JPEG), image16.h
 *               (16-bit grey PNG depth maps), hub.h (the Hugging Face hub:
 *               listing, downloading, verifying)
 *   compute/    backend.h: compute contexts and the kernel table. Behind it
 *               compute/cpu/ (the reference kernels over OpenBLAS) and
 *               compute/cuda/ (their twins, built as the od-cuda.so plugin);
 *               files pair by name: cpu_linear.c <-> cuda_linear.cu
 *   model/      the networks, written once against the kernel table:
 *               nextdit.h + nextdit_config.h + rope.h, t5.h + t5_config.h,
 *               vae.h + vae_config.h, components.h (random weights, sizes);
 *               nextdit_grad.h (float32 parameters, the training loss and its
 *               gradient through the kernels' backward passes),
 *               nextdit_case.h (training batches from .safetensors) and
 *               vae_grad.h (the VAE's: L1 + β·KL and its gradient)
 *   text/       spm.h (SentencePiece), t5_tokenizer.h, prompt.h (task tags)
 *   camera/     camera.h (conventions, Plücker rays), camera_json.h,
 *               rays_to_cameras.h
 *   pipeline/   what the tools run: preprocess.h, encode.h, decode.h,
 *               postprocess.h (od-encode, od-decode), draws.h (upstream's
 *               order of random draws), schedule.h, sampler.h, job.h
 *               (od-denoise), record.h (a picture's parameters: the A1111
 *               "parameters" text, JSON), batch.h (shards, job identities,
 *               output names from metadata)
 *   train/      od-train: objective.h (noising, a step's draws), adamw.h
 *               (AdamW, clipping, schedule, EMA), data.h (jobs of frame
 *               streams, batches), checkpoint.h (checkpoints, training
 *               state), log.h, preview.h (sample sheets), trainer.h (a run),
 *               vae_train.h (a VAE's run: pictures and crops, checkpoints,
 *               scaling factors)
 *   scene/      od-scene's synthetic world: scene.h (scenes from a seed,
 *               captions, task prompts), scene_render.h (the ray caster and
 *               the maps), canny.h (Canny edges), scene_write.h (scene
 *               folders and sets, od-scene(5))
 *   eval/       what od-eval measures: picture.h (PSNR, SSIM), depth.h
 *               (aligned AbsRel, δ1), segment.h (mIoU), pose.h (relative
 *               rotations, Umeyama-aligned centres), t2i.h (GenEval-style
 *               colour detections), scene_json.h (scene-set files), items.h
 *               (list files, folders, sets), report.h (CSV/JSON/Markdown),
 *               evaluate.h (one item -> one row); for evaluation runs
 *               (make eval): baseline.h (trivial predictions), sheet.h
 *               (contact sheets, camera plans), results.h (many tasks'
 *               tables, failed items counted)
 *
 * Data flow (each arrow is a frame stream):
 *
 *   prompt  --od-tag-->     text frames (prompt + negative, with masks) --+
 *   images  --od-encode-->  latent frames (condition)                     +--> od-denoise --> frames --> od-decode --> PNG/JPEG
 *   cameras --od-plucker--> ray frames (condition or target)             --+                              `--> cameras.json
 *
 * Conventions: functions return OD_OK (0) or a negative od_status and leave a
 * message in od_errmsg(); nothing here prints or exits. Shapes are PyTorch
 * order, row-major. Comments cite doc/numerics.md (numerics.md §x) where a line
 * follows a formula or reproduces an upstream quirk.
 */
#ifndef OD_H
#define OD_H

#include "base/error.h"
#include "base/tensor.h"
#include "base/io.h"
#include "base/parallel.h"
#include "base/rng.h"
#include "base/blas.h"
#include "base/linalg3.h"
#include "base/sha.h"
#include "base/textbuf.h"

#include "formats/frame.h"
#include "formats/frame_safetensors.h"
#include "formats/safetensors.h"
#include "formats/config.h"
#include "formats/checkpoint.h"
#include "formats/image.h"
#include "formats/image16.h"
#include "formats/hub.h"

#include "compute/backend.h"

#include "model/nextdit_config.h"
#include "model/nextdit.h"
#include "model/rope.h"
#include "model/t5_config.h"
#include "model/t5.h"
#include "model/vae_config.h"
#include "model/vae.h"
#include "model/components.h"
#include "model/nextdit_grad.h"
#include "model/nextdit_case.h"
#include "model/vae_grad.h"

#include "text/spm.h"
#include "text/t5_tokenizer.h"
#include "text/prompt.h"

#include "camera/camera.h"
#include "camera/camera_json.h"
#include "camera/rays_to_cameras.h"

#include "pipeline/preprocess.h"
#include "pipeline/postprocess.h"
#include "pipeline/encode.h"
#include "pipeline/decode.h"
#include "pipeline/draws.h"
#include "pipeline/schedule.h"
#include "pipeline/sampler.h"
#include "pipeline/job.h"
#include "pipeline/record.h"
#include "pipeline/batch.h"

#include "train/objective.h"
#include "train/adamw.h"
#include "train/data.h"
#include "train/checkpoint.h"
#include "train/log.h"
#include "train/preview.h"
#include "train/trainer.h"
#include "train/vae_train.h"

#include "scene/scene.h"
#include "scene/scene_render.h"
#include "scene/canny.h"
#include "scene/scene_write.h"

#include "eval/picture.h"
#include "eval/depth.h"
#include "eval/segment.h"
#include "eval/pose.h"
#include "eval/scene_json.h"
#include "eval/t2i.h"
#include "eval/items.h"
#include "eval/report.h"
#include "eval/evaluate.h"
#include "eval/baseline.h"
#include "eval/sheet.h"
#include "eval/results.h"

#endif
