#!/usr/bin/env python3
"""step_torch.py: one guided NextDiT sampling step in PyTorch on the CPU, the
same forward od computes (lib/model/nextdit.c, numerics.md §2), on the same
checkpoint and the same inputs, for bench/step.sh.

  step_torch.py --mode fp32|autocast|cast --reps R --inputs DUMP.safetensors TRANSFORMER_DIR

DUMP is what `dit-step --dump` wrote (emb, mask, x, t, and od's output). Modes:
  fp32      float32 weights and activations
  autocast  float32 weights, torch.autocast("cpu", bfloat16): matrix products in
            BF16, the rest as autocast decides
  cast      the model cast to BF16 (weights and activations), norms and softmax
            in float32 as below
The work is od's, operation for operation and FLOP for FLOP: adaLN modulations
once per frame, the text side (pooled caption, per-block text keys and values)
once before the timed steps, q/k LayerNorms over the full width, interleaved
RoPE, GQA (repeat_interleave for self-attention, tiled heads for the cross
attention), the self-attention soft-cap 30·tanh(s/30), which no fused PyTorch
attention offers, so the scores are formed in blocks of 256 query rows (od's
block) and softmaxed in float32; SwiGLU in one pass (od chunks it at 4096 rows,
which these sizes never reach).

Prints one line of key=value pairs: median seconds per step over --reps steps
after one untimed step, GFLOP/s (dit-step's formula), peak RSS, and the largest
difference from od's output relative to od's largest output value.
"""
import argparse
import json
import math
import mmap
import resource
import struct
import sys
import time

import torch
import torch.nn.functional as F

DT = {"F32": torch.float32, "BF16": torch.bfloat16, "F16": torch.float16, "U8": torch.uint8}


def load_safetensors(path):
    f = open(path, "rb")
    mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_COPY)  # private: torch may view it writable
    n = struct.unpack("<Q", mm[:8])[0]
    head = json.loads(mm[8:8 + n])
    out = {}
    for name, d in head.items():
        if name == "__metadata__":
            continue
        a, b = d["data_offsets"]
        dt = DT[d["dtype"]]
        count = (b - a) // torch.empty((), dtype=dt).element_size()
        t = torch.frombuffer(mm, dtype=dt, count=count, offset=8 + n + a) if count else torch.empty(0, dtype=dt)
        out[name] = t.reshape(d["shape"])
    return out


def load_model(tdir):
    import glob
    import os
    files = sorted(glob.glob(os.path.join(tdir, "*.safetensors")))
    w = {}
    for p in files:
        w.update(load_safetensors(p))
    with open(os.path.join(tdir, "config.json")) as f:
        c = json.load(f)
    D, H = c["hidden_size"], c["num_heads"]
    kvh = c.get("num_kv_heads") or H
    mult = c.get("multiple_of", 256)
    ff = int(2 * (4 * D) / 3)
    if c.get("ffn_dim_multiplier"):
        ff = int(c["ffn_dim_multiplier"] * ff)
    ff = mult * ((ff + mult - 1) // mult)
    cfg = dict(D=D, H=H, KVH=kvh, hd=D // H, FF=ff, depth=c["depth"], eps=c.get("norm_eps", 1e-5),
               C=c["in_channels"], P=c["in_channels"] * 4)
    return w, cfg


def rmsnorm(x, w, eps):
    xf = x.float()
    return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps)).to(x.dtype) * w


def layernorm(x, D, w, b, eps):
    return F.layer_norm(x.float(), (D,), None if w is None else w.float(), None if b is None else b.float(),
                        eps).to(x.dtype)


def rope_table(cfg, Hp, Wp):
    hd = cfg["hd"]
    n = hd // 6
    omega = 1.0 / (10000.0 ** (torch.arange(0, hd, 6)[:n].float() / hd))
    i = torch.arange(Hp).float()
    j = torch.arange(Wp).float()
    pf = torch.zeros(Hp, Wp, n)
    pi = torch.outer(i, omega)[:, None, :].expand(Hp, Wp, n)
    pj = torch.outer(j, omega)[None, :, :].expand(Hp, Wp, n)
    ang = torch.cat([pf, pi, pj], -1).reshape(Hp * Wp, 3 * n)
    return torch.polar(torch.ones_like(ang), ang)


def rope(x, fc):
    B, L, H, hd = x.shape
    xc = torch.view_as_complex(x.float().reshape(B, L, H, hd // 2, 2).contiguous())
    return torch.view_as_real(xc * fc[None, :, None, :]).flatten(3).to(x.dtype)


def self_attention(q, k, v, scale, qblock=256):
    """q (B,H,L,hd), k/v (B,KVH,L,hd); soft-capped scores in float32, blocks of query rows."""
    rep = q.shape[1] // k.shape[1]
    k = k.repeat_interleave(rep, 1)
    v = v.repeat_interleave(rep, 1)
    out = torch.empty_like(q)
    kt = k.transpose(-1, -2)
    for i in range(0, q.shape[2], qblock):
        s = torch.matmul(q[:, :, i:i + qblock], kt).float() * scale
        s = 30.0 * torch.tanh(s / 30.0)
        out[:, :, i:i + qblock] = torch.matmul(s.softmax(-1).to(v.dtype), v)
    return out


def text_side(w, cfg, emb, mask, dt):
    D, KVH, hd, H = cfg["D"], cfg["KVH"], cfg["hd"], cfg["H"]
    B = emb.shape[0]
    m = mask.float()
    pool = (emb * m[:, :, None]).sum(1) / (m.sum(1, keepdim=True) + 1e-8)
    y = F.linear(layernorm(pool.to(dt), pool.shape[-1], w["y_embedder.0.weight"], w["y_embedder.0.bias"], 1e-6),
                 w["y_embedder.1.weight"], w["y_embedder.1.bias"])
    kv = []
    e = emb.to(dt)
    for i in range(cfg["depth"]):
        p = "layers.%d." % i
        yn = rmsnorm(e, w[p + "attention_y_norm.weight"], cfg["eps"])
        yk = layernorm(F.linear(yn, w[p + "attention.wk_y.weight"]), KVH * hd, w[p + "attention.ky_norm.weight"],
                       w[p + "attention.ky_norm.bias"], 1e-6)
        yv = F.linear(yn, w[p + "attention.wv_y.weight"])
        # tiled head map: query head h reads text head h % KVH
        yk = yk.view(B, -1, KVH, hd).transpose(1, 2).repeat(1, H // KVH, 1, 1).contiguous()
        yv = yv.view(B, -1, KVH, hd).transpose(1, 2).repeat(1, H // KVH, 1, 1).contiguous()
        kv.append((yk, yv))
    return y, kv


def forward(w, cfg, y, kv, mask, x, t, fc, dt):
    """x (B, 1, C, h, w) float32 latents, t (B, 1); returns (B, 1, C, h, w) float32."""
    D, H, KVH, hd, eps, C = cfg["D"], cfg["H"], cfg["KVH"], cfg["hd"], cfg["eps"], cfg["C"]
    B, _, _, h, wd = x.shape
    Hp, Wp = h // 2, wd // 2
    L = Hp * Wp
    # patchify: token (i, j), feature (ph·2 + pw)·C + c
    tok = x.reshape(B, C, Hp, 2, Wp, 2).permute(0, 2, 4, 3, 5, 1).reshape(B, L, 4 * C).to(dt)
    xx = F.linear(tok, w["x_embedder.weight"], w["x_embedder.bias"])
    k_ = torch.arange(128).float()
    omega = torch.exp(-math.log(10000.0) * k_ / 128.0)
    arg = t.reshape(B, 1).float() * omega[None]
    tf = torch.cat([torch.cos(arg), torch.sin(arg)], -1).to(dt)
    te = F.linear(F.silu(F.linear(tf, w["t_embedder.mlp.0.weight"], w["t_embedder.mlp.0.bias"])),
                  w["t_embedder.mlp.2.weight"], w["t_embedder.mlp.2.bias"])
    cc = F.silu(te + y)[:, None, :]  # (B, 1, A): one frame
    ymask = mask.bool()[:, None, None, :]
    scale = 1.0 / math.sqrt(hd)
    for i in range(cfg["depth"]):
        p = "layers.%d." % i
        mod = F.linear(cc, w[p + "adaLN_modulation.1.weight"], w[p + "adaLN_modulation.1.bias"])
        s_msa, g_msa, s_mlp, g_mlp = mod.chunk(4, -1)
        hh = rmsnorm(xx, w[p + "attention_norm1.weight"], eps) * (1 + s_msa)
        q = layernorm(F.linear(hh, w[p + "attention.wq.weight"]), D, w[p + "attention.q_norm.weight"],
                      w[p + "attention.q_norm.bias"], 1e-5)
        k = layernorm(F.linear(hh, w[p + "attention.wk.weight"]), KVH * hd, w[p + "attention.k_norm.weight"],
                      w[p + "attention.k_norm.bias"], 1e-5)
        v = F.linear(hh, w[p + "attention.wv.weight"])
        q = rope(q.view(B, L, H, hd), fc).transpose(1, 2)
        k = rope(k.view(B, L, KVH, hd), fc).transpose(1, 2)
        v = v.view(B, L, KVH, hd).transpose(1, 2)
        o = self_attention(q, k, v, scale)
        yk, yv = kv[i]
        oy = F.scaled_dot_product_attention(q, yk, yv, attn_mask=ymask, scale=scale)
        o = o + torch.tanh(w[p + "attention.gate"].float()).to(o.dtype).view(1, H, 1, 1) * oy
        a = F.linear(o.transpose(1, 2).reshape(B, L, D), w[p + "attention.wo.weight"])
        xx = xx + torch.tanh(g_msa) * rmsnorm(a, w[p + "attention_norm2.weight"], eps)
        h2 = rmsnorm(xx, w[p + "ffn_norm1.weight"], eps) * (1 + s_mlp)
        f = F.linear(F.silu(F.linear(h2, w[p + "feed_forward.w1.weight"])) * F.linear(h2, w[p + "feed_forward.w3.weight"]),
                     w[p + "feed_forward.w2.weight"])
        xx = xx + torch.tanh(g_mlp) * rmsnorm(f, w[p + "ffn_norm2.weight"], eps)
    fs = F.linear(cc, w["final_layer.adaLN_modulation.1.weight"], w["final_layer.adaLN_modulation.1.bias"])
    hh = layernorm(xx, D, None, None, 1e-6) * (1 + fs)
    out = F.linear(hh, w["final_layer.linear.weight"], w["final_layer.linear.bias"]).float()
    Co = out.shape[-1] // 4
    return out.reshape(B, Hp, Wp, 2, 2, Co).permute(0, 5, 1, 3, 2, 4).reshape(B, 1, Co, h, wd)


def flops(cfg, B, L, S=300):
    M, D, KV, FF = B * L, cfg["D"], cfg["KVH"] * cfg["hd"], cfg["FF"]
    return (cfg["depth"] * (2 * M * (2 * D * D + 2 * D * KV + 3 * D * FF) + 4 * B * L * L * D + 4 * B * L * S * D)
            + 2 * M * (cfg["P"] * D * 2))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("transformer")
    ap.add_argument("--inputs", required=True)
    ap.add_argument("--mode", choices=["fp32", "autocast", "cast"], default="fp32")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0)
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    w, cfg = load_model(a.transformer)
    dt = torch.bfloat16 if a.mode == "cast" else torch.float32
    w = {k: v.to(dt) if v.is_floating_point() else v for k, v in w.items()}
    inp = load_safetensors(a.inputs)
    emb, mask, x, t, ref = inp["emb"], inp["mask"], inp["x"], inp["t"], inp["out"]
    B, h = x.shape[0], x.shape[3]
    L = (h // 2) * (x.shape[4] // 2)
    fc = rope_table(cfg, h // 2, x.shape[4] // 2)
    ctx = torch.autocast("cpu", dtype=torch.bfloat16) if a.mode == "autocast" else torch.autocast("cpu", enabled=False)
    with torch.inference_mode(), ctx:
        y, kv = text_side(w, cfg, emb, mask, dt)
        t0 = time.time()
        out = forward(w, cfg, y, kv, mask, x, t, fc, dt)
        first = time.time() - t0
        times = []
        for _ in range(a.reps):
            t0 = time.time()
            out = forward(w, cfg, y, kv, mask, x, t, fc, dt)
            times.append(time.time() - t0)
    times.sort()
    med = times[len(times) // 2]
    diff = (out.float() - ref).abs().max().item() / max(ref.abs().max().item(), 1e-30)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print("engine=torch size=%d tokens=%d precision=%s torch=%s threads=%d seconds=%.4f min=%.4f max=%.4f reps=%d "
          "gflops=%.1f first=%.2f peak_rss_mb=%d max_rel_diff_vs_od=%.3g mean_abs_out=%.6f"
          % (h * 8, B * L, a.mode, torch.__version__, torch.get_num_threads(), med, times[0], times[-1], a.reps,
             flops(cfg, B, L) / med / 1e9, first, rss, diff, out.float().abs().mean().item()))


if __name__ == "__main__":
    sys.exit(main())
