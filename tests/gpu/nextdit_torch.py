#!/usr/bin/env python3
"""nextdit_torch.py: the NextDiT forward (numerics.md §2) in PyTorch BF16, for
timing against od's CUDA backend on the same machine (tests/gpu/run).

It computes what od's lib/model/nextdit.c computes per sampling step, with the same
work split, so the two timings compare like for like:
  - random BF16 weights of the checkpoint's config (transformer/config.json);
  - adaLN modulations once per frame (upstream computes them per token, with
    identical values: lib/model/nextdit.h explains), broadcast over the frame's tokens;
  - the text side (attention_y_norm, wk_y + ky_norm, wv_y per block, pooled y)
    computed once before the timed steps, as od_nextdit_text_prepare does;
  - RMSNorm in float32 then cast to BF16 and multiplied by the weight, q/k
    LayerNorms over the full width, interleaved-pair RoPE in float32, GQA
    repeat_interleave for self-attention and tiled heads for cross-attention,
    tanh gates, SwiGLU, the final LayerNorm-modulate and linear.

Self-attention soft-cap 30 (§2.6 item 1) has no F.scaled_dot_product_attention
form. --attn picks:
  sdpa  F.scaled_dot_product_attention WITHOUT the soft-cap (flash/cuDNN
        kernels): a lower bound on any soft-capped PyTorch time; the default.
  flex  torch.nn.attention.flex_attention with score_mod 30·tanh(s/30),
        compiled (the soft-capped model as released; compile time excluded).
  math  scores in chunks of query rows with the soft-cap, softmax, @ v: exact
        but slow (a reference, not a contender).
Timing: CUDA events around whole forwards after warm-up, median of --repeat.
Prints one line: config, attention path, seconds per step, TFLOP/s (the FLOP
formula of tests/gpu/nextdit_step.c), peak memory.
"""
import argparse
import json
import math
import sys
import time

import torch
import torch.nn.functional as F


def cfg_from(path):
    with open(path) as f:
        c = json.load(f)
    D, H = c["hidden_size"], c["num_heads"]
    kvh = c.get("num_kv_heads") or H
    mult = c.get("multiple_of", 256)
    ff = int(2 * (4 * D) / 3)
    if c.get("ffn_dim_multiplier"):
        ff = int(c["ffn_dim_multiplier"] * ff)
    ff = mult * ((ff + mult - 1) // mult)
    return dict(D=D, H=H, KVH=kvh, hd=D // H, FF=ff, depth=c["depth"], A=min(D, 1024),
                Dc=c["caption_channels"], C=c["in_channels"], P=c["in_channels"] * 4, eps=c.get("norm_eps", 1e-5))


def weights(cfg, dev):
    g = torch.Generator(device=dev).manual_seed(1)
    bf = torch.bfloat16

    def r(*shape, s=0.02):
        return (torch.randn(*shape, generator=g, device=dev, dtype=torch.float32) * s).to(bf)

    D, KV, A, Dc, FF, P = cfg["D"], cfg["KVH"] * cfg["hd"], cfg["A"], cfg["Dc"], cfg["FF"], cfg["P"]
    blocks = []
    for _ in range(cfg["depth"]):
        blocks.append(dict(
            wq=r(D, D), wk=r(KV, D), wv=r(KV, D), wo=r(D, D),
            qn_w=1 + r(D), qn_b=r(D), kn_w=1 + r(KV), kn_b=r(KV),
            wk_y=r(KV, Dc), wv_y=r(KV, Dc), kyn_w=1 + r(KV), kyn_b=r(KV), gate=r(cfg["H"], s=0.5),
            w1=r(FF, D), w3=r(FF, D), w2=r(D, FF),
            n1=1 + r(D), n2=1 + r(D), fn1=1 + r(D), fn2=1 + r(D), yn=1 + r(Dc),
            ada_w=r(4 * D, A), ada_b=r(4 * D)))
    top = dict(x_w=r(D, P), x_b=r(D), fin_w=r(P, D), fin_b=r(P), fin_ada_w=r(D, A), fin_ada_b=r(D))
    return blocks, top


def rmsnorm(x, w, eps):
    xf = x.float()
    return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps)).to(x.dtype) * w


def rope_table(cfg, F_, Hp, Wp, dev):
    hd = cfg["hd"]
    n = hd // 6
    omega = 1.0 / (10000 ** (torch.arange(0, hd, 6, device=dev)[:n].float() / hd))
    f = torch.arange(F_, device=dev).float()
    i = torch.arange(Hp, device=dev).float()
    j = torch.arange(Wp, device=dev).float()
    pf = torch.outer(f, omega)[:, None, None, :].expand(F_, Hp, Wp, n)
    pi = torch.outer(i, omega)[None, :, None, :].expand(F_, Hp, Wp, n)
    pj = torch.outer(j, omega)[None, None, :, :].expand(F_, Hp, Wp, n)
    ang = torch.cat([pf, pi, pj], -1).reshape(F_ * Hp * Wp, 3 * n)
    return torch.polar(torch.ones_like(ang), ang)  # (L, hd/2) complex64


def rope(x, fc):
    B, L, H, hd = x.shape
    xc = torch.view_as_complex(x.float().reshape(B, L, H, hd // 2, 2))
    return torch.view_as_real(xc * fc[None, :, None, :]).flatten(3).to(x.dtype)


class Attn:
    def __init__(self, kind, hd):
        self.kind = kind
        self.scale = 1.0 / math.sqrt(hd)
        if kind == "flex":
            from torch.nn.attention.flex_attention import flex_attention

            def softcap(score, b, h, q, kv):
                return 30.0 * torch.tanh(score / 30.0)

            self.mod = softcap
            self.flex = torch.compile(flex_attention, dynamic=False)

    def self_attn(self, q, k, v):  # (B,H,L,hd), (B,KVH,L,hd)
        if self.kind == "sdpa":
            return F.scaled_dot_product_attention(q, k, v, scale=self.scale, enable_gqa=True)
        if self.kind == "flex":
            return self.flex(q, k, v, score_mod=self.mod, scale=self.scale, enable_gqa=True)
        rep = q.shape[1] // k.shape[1]
        k = k.repeat_interleave(rep, 1)
        v = v.repeat_interleave(rep, 1)
        out = torch.empty_like(q)
        for i in range(0, q.shape[2], 1024):
            s = (q[:, :, i:i + 1024].float() @ k.float().transpose(-1, -2)) * self.scale
            s = 30.0 * torch.tanh(s / 30.0)
            out[:, :, i:i + 1024] = (s.softmax(-1).to(q.dtype) @ v)
        return out


def forward(cfg, blocks, top, text, x_tok, silu_c, fc, attn, B, F_, T):
    """x_tok (B, L, P) bf16; silu_c (B, F, A) bf16; text: per-block (yk, yv), mask."""
    D, H, KVH, hd, eps = cfg["D"], cfg["H"], cfg["KVH"], cfg["hd"], cfg["eps"]
    L = F_ * T
    x = F.linear(x_tok, top["x_w"], top["x_b"])
    ymask = text["mask"][:, None, None, :]  # (B,1,1,S) bool

    def per_frame(v):  # (B,F,D) -> broadcast over the frame's tokens, (B,L,D)
        return v[:, :, None, :].expand(B, F_, T, v.shape[-1]).reshape(B, L, v.shape[-1])

    for i, w in enumerate(blocks):
        mod = F.linear(silu_c, w["ada_w"], w["ada_b"])
        s_msa, g_msa, s_mlp, g_mlp = (per_frame(m) for m in mod.chunk(4, -1))
        h = rmsnorm(x, w["n1"], eps) * (1 + s_msa)
        q = F.layer_norm(F.linear(h, w["wq"]), (D,), w["qn_w"], w["qn_b"], 1e-5)
        k = F.layer_norm(F.linear(h, w["wk"]), (KVH * hd,), w["kn_w"], w["kn_b"], 1e-5)
        v = F.linear(h, w["wv"])
        q = rope(q.view(B, L, H, hd), fc).transpose(1, 2)
        k = rope(k.view(B, L, KVH, hd), fc).transpose(1, 2)
        v = v.view(B, L, KVH, hd).transpose(1, 2)
        o = attn.self_attn(q, k, v)
        yk, yv = text["kv"][i]
        oy = F.scaled_dot_product_attention(q, yk, yv, attn_mask=ymask, scale=attn.scale)
        o = o + torch.tanh(w["gate"]).view(1, H, 1, 1) * oy
        a = F.linear(o.transpose(1, 2).reshape(B, L, D), w["wo"])
        x = x + torch.tanh(g_msa) * rmsnorm(a, w["n2"], eps)
        h2 = rmsnorm(x, w["fn1"], eps) * (1 + s_mlp)
        f = F.linear(F.silu(F.linear(h2, w["w1"])) * F.linear(h2, w["w3"]), w["w2"])
        x = x + torch.tanh(g_mlp) * rmsnorm(f, w["fn2"], eps)
    scale = per_frame(F.linear(silu_c, top["fin_ada_w"], top["fin_ada_b"]))
    h = F.layer_norm(x, (D,), eps=1e-6) * (1 + scale)
    return F.linear(h, top["fin_w"], top["fin_b"])


def text_side(cfg, blocks, B, S, dev):
    bf = torch.bfloat16
    emb = torch.rand(B, S, cfg["Dc"], device=dev, dtype=torch.float32).mul_(2).sub_(1).to(bf)
    mask = torch.zeros(B, S, dtype=torch.bool, device=dev)
    mask[:, :40] = True
    KVH, hd, H = cfg["KVH"], cfg["hd"], cfg["H"]
    kv = []
    for w in blocks:
        yn = rmsnorm(emb, w["yn"], cfg["eps"])
        yk = F.layer_norm(F.linear(yn, w["wk_y"]), (KVH * hd,), w["kyn_w"], w["kyn_b"], 1e-6)
        yv = F.linear(yn, w["wv_y"])
        # tiled head map (einops "(repeat h)"): q-head h reads kv head h % KVH
        yk = yk.view(B, S, KVH, hd).transpose(1, 2).repeat(1, H // KVH, 1, 1)
        yv = yv.view(B, S, KVH, hd).transpose(1, 2).repeat(1, H // KVH, 1, 1)
        kv.append((yk.contiguous(), yv.contiguous()))
    return dict(kv=kv, mask=mask)


def flops(cfg, B, F_, h, w, S=300):
    L = F_ * (h // 2) * (w // 2)
    M, D, KV, FF = B * L, cfg["D"], cfg["KVH"] * cfg["hd"], cfg["FF"]
    return (cfg["depth"] * (2 * M * (2 * D * D + 2 * D * KV + 3 * D * FF) + 4 * B * L * L * D + 4 * B * L * S * D)
            + 2 * M * (cfg["P"] * D * 2))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("config", help="transformer/config.json")
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--frames", type=int, default=1)
    ap.add_argument("--latent", type=int, default=128, help="latent height = width (pixels / 8)")
    ap.add_argument("--attn", choices=["sdpa", "flex", "math"], default="sdpa")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--label", default="")
    a = ap.parse_args()
    dev = "cuda"
    torch.backends.cuda.matmul.allow_tf32 = False
    cfg = cfg_from(a.config)
    B, F_, h = a.batch, a.frames, a.latent
    T = (h // 2) * (h // 2)
    L = F_ * T
    with torch.no_grad():
        blocks, top = weights(cfg, dev)
        text = text_side(cfg, blocks, B, 300, dev)
        x_tok = (torch.rand(B, L, cfg["P"], device=dev) * 4 - 2).to(torch.bfloat16)
        silu_c = F.silu(torch.randn(B, F_, cfg["A"], device=dev)).to(torch.bfloat16)
        fc = rope_table(cfg, F_, h // 2, h // 2, dev)
        attn = Attn(a.attn, cfg["hd"])
        torch.cuda.synchronize()
        t0 = time.time()
        for _ in range(2):  # warm-up (and flex compilation)
            out = forward(cfg, blocks, top, text, x_tok, silu_c, fc, attn, B, F_, T)
        torch.cuda.synchronize()
        warm = time.time() - t0
        torch.cuda.reset_peak_memory_stats()
        times = []
        for _ in range(a.repeat):
            e0, e1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            e0.record()
            out = forward(cfg, blocks, top, text, x_tok, silu_c, fc, attn, B, F_, T)
            e1.record()
            torch.cuda.synchronize()
            times.append(e0.elapsed_time(e1) / 1000.0)
        times.sort()
        med = times[len(times) // 2]
        fl = flops(cfg, B, F_, h, h)
        peak = torch.cuda.max_memory_allocated() / 2**30
        print("torch %s %s B=%d F=%d latent %dx%d (L=%d): %.4f s median of %d (min %.4f), %.1f TFLOP/s, "
              "peak %.2f GiB, warm-up %.1f s, mean|out| %.4f"
              % (torch.__version__, a.attn, B, F_, h, h, L, med, a.repeat, times[0], fl / med * 1e-12, peak,
                 warm, out.float().abs().mean().item()))
        print("TORCH_SECONDS %s %s %.6f" % (a.label or "run", a.attn, med))


if __name__ == "__main__":
    sys.exit(main())
