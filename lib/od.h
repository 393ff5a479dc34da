/*
 * od.h: libod, OneDiffusion inference in C. Include this one header.
 *
 * The library does the work; the tools in bin/ only parse options and wire
 * files and pipes. Every module is one idea:
 *
 *   error.h        status codes and the thread's last error message
 *   tensor.h       element types (F32/F16/BF16/...), tensor views, conversions
 *   io.h           atomic output files, exact reads, maps
 *   safetensors.h  .safetensors reading (mmap, validated) and writing
 *   checkpoint.h   Hugging Face component folders, configs, tensor specs
 *   frame.h        the od frame stream (od-frame(5)): what tools exchange
 *   backend.h      compute contexts (CPU, CUDA plugin) and the kernel table
 *   parallel.h     the CPU thread pool
 *   rng.h          seeds to N(0,1) noise, matching torch.randn on the CPU
 *   blas.h         choosing OpenBLAS kernels for this CPU
 *   nextdit_config.h, t5_config.h, vae_config.h, components.h
 *                  model configurations, the tensors they imply, random weights
 *   frame_safetensors.h  frame streams to and from .safetensors
 *
 * Text (od-tag):   spm.h (SentencePiece), t5_tokenizer.h, t5.h (encoder),
 *                  prompt.h (task tags and prompt formats)
 * Images (od-encode, od-decode): image.h (PNG/JPEG), preprocess.h,
 *                  postprocess.h, vae.h (AutoencoderKL), encode.h, decode.h
 * Generation (od-denoise): nextdit.h (the transformer), rope.h, schedule.h,
 *                  sampler.h (flow-matching Euler with guidance), job.h
 * Cameras (od-plucker, od-decode): camera.h, rays_to_cameras.h, camera_json.h
 *
 * Data flow (each arrow is a frame stream):
 *
 *   prompt  --od-tag-->     text frames (prompt + negative, with masks) --+
 *   images  --od-encode-->  latent frames (condition)                     +--> od-denoise --> frames --> od-decode --> PNG/JPEG
 *   cameras --od-plucker--> ray frames (condition or target)             --+                              `--> cameras.json
 *
 * Conventions: functions return OD_OK (0) or a negative od_status and leave a
 * message in od_errmsg(); nothing here prints or exits. Shapes are PyTorch
 * order, row-major. Section references (upstream.md §x) point to the upstream
 * specification the numerics follow.
 */
#ifndef OD_H
#define OD_H

#include "backend.h"
#include "blas.h"
#include "checkpoint.h"
#include "error.h"
#include "frame.h"
#include "io.h"
#include "nextdit_config.h"
#include "parallel.h"
#include "rng.h"
#include "safetensors.h"
#include "t5_config.h"
#include "tensor.h"
#include "vae_config.h"
#include "components.h"
#include "frame_safetensors.h"
#include "spm.h"
#include "t5_tokenizer.h"
#include "t5.h"
#include "prompt.h"
#include "image.h"
#include "preprocess.h"
#include "postprocess.h"
#include "vae.h"
#include "encode.h"
#include "decode.h"
#include "nextdit.h"
#include "rope.h"
#include "schedule.h"
#include "sampler.h"
#include "job.h"
#include "camera.h"
#include "rays_to_cameras.h"
#include "camera_json.h"

#endif
