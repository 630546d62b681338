"""Independent check with PyTorch (Debian's python3-torch): reads a model
directory written by lowrank (config.json + model.safetensors, parsed here
with struct/json, not with lowrank's reader) and prints float64 logits of the
Hugging Face LLaMA or GPT-2 forward, written with torch ops.

usage: torch_reference.py MODEL_DIR IDS_JSON  ->  JSON [batch][seq][vocab]
"""
import json
import math
import struct
import sys

import torch

DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "F64": torch.float64}


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    base = 8 + n
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        b, end = e["data_offsets"]
        raw = bytearray(data[base + b : base + end])
        t = torch.frombuffer(raw, dtype=DTYPES[e["dtype"]]) if raw else torch.zeros(0, dtype=DTYPES[e["dtype"]])
        out[name] = t.reshape(e["shape"]).to(torch.float64)
    return out


def rms_norm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def attention(q, k, v, scale):
    s = q.shape[-2]
    scores = q @ k.transpose(-1, -2) * scale
    causal = torch.ones(s, s, dtype=torch.bool).tril()
    scores = scores.masked_fill(~causal, float("-inf"))
    return torch.softmax(scores, dim=-1) @ v


def llama(c, w, ids):
    B, S = ids.shape
    H, KV = c["num_attention_heads"], c.get("num_key_value_heads") or c["num_attention_heads"]
    D = c.get("head_dim") or c["hidden_size"] // H
    eps, theta = c.get("rms_norm_eps", 1e-6), c.get("rope_theta", 10000.0)
    inv = 1.0 / (theta ** (torch.arange(0, D, 2, dtype=torch.float64) / D))
    freqs = torch.arange(S, dtype=torch.float64)[:, None] * inv[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos(), emb.sin()
    h = w["model.embed_tokens.weight"][ids]
    for l in range(c["num_hidden_layers"]):
        p = f"model.layers.{l}."
        x = rms_norm(h, w[p + "input_layernorm.weight"], eps)
        lin = lambda n, t: t @ w[p + n + ".weight"].T + (w[p + n + ".bias"] if p + n + ".bias" in w else 0)
        q = lin("self_attn.q_proj", x).view(B, S, H, D).transpose(1, 2)
        k = lin("self_attn.k_proj", x).view(B, S, KV, D).transpose(1, 2)
        v = lin("self_attn.v_proj", x).view(B, S, KV, D).transpose(1, 2)
        q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
        k, v = k.repeat_interleave(H // KV, dim=1), v.repeat_interleave(H // KV, dim=1)
        a = attention(q, k, v, 1 / math.sqrt(D)).transpose(1, 2).reshape(B, S, H * D)
        h = h + lin("self_attn.o_proj", a)
        y = rms_norm(h, w[p + "post_attention_layernorm.weight"], eps)
        h = h + lin("mlp.down_proj", torch.nn.functional.silu(lin("mlp.gate_proj", y)) * lin("mlp.up_proj", y))
    h = rms_norm(h, w["model.norm.weight"], eps)
    head = w["model.embed_tokens.weight"] if c.get("tie_word_embeddings") else w["lm_head.weight"]
    return h @ head.T


def gpt2(c, w, ids):
    B, S = ids.shape
    E, H = c["n_embd"], c["n_head"]
    D = E // H
    eps = c.get("layer_norm_epsilon", 1e-5)
    ln = lambda t, n: torch.nn.functional.layer_norm(t, (E,), w[n + ".weight"], w[n + ".bias"], eps)
    conv = lambda t, n: t @ w[n + ".weight"] + w[n + ".bias"]
    heads = lambda t: t.view(B, S, H, D).transpose(1, 2)
    h = w["transformer.wte.weight"][ids] + w["transformer.wpe.weight"][torch.arange(S)]
    for l in range(c["n_layer"]):
        p = f"transformer.h.{l}."
        q, k, v = conv(ln(h, p + "ln_1"), p + "attn.c_attn").split(E, dim=-1)
        scale = 1 / math.sqrt(D) / ((l + 1) if c.get("scale_attn_by_inverse_layer_idx") else 1)
        a = attention(heads(q), heads(k), heads(v), scale).transpose(1, 2).reshape(B, S, E)
        h = h + conv(a, p + "attn.c_proj")
        f = torch.nn.functional.gelu(conv(ln(h, p + "ln_2"), p + "mlp.c_fc"), approximate="tanh")
        h = h + conv(f, p + "mlp.c_proj")
    return ln(h, "transformer.ln_f") @ w["transformer.wte.weight"].T


def main():
    model_dir, ids_json = sys.argv[1], sys.argv[2]
    with open(f"{model_dir}/config.json") as f:
        c = json.load(f)
    w = read_safetensors(f"{model_dir}/model.safetensors")
    ids = torch.tensor(json.loads(ids_json), dtype=torch.long)
    fwd = {"llama": llama, "gpt2": gpt2}[c["model_type"]]
    with torch.no_grad():
        print(json.dumps(fwd(c, w, ids).tolist()))


main()
