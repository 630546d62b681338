"""PyTorch peer for the large-model benchmark (bench/src/large/billion.ts).

Reads the same Hugging Face LLaMA directory (bf16 safetensors), keeps the frozen
weights bf16 and upcasts each one to float32 right before its matmul (as
lowrank does on CPU, where bf16 matmuls are not native), adds LoRA r=16 on
q,k,v,o as PEFT does (dropout 0, B = 0), and times AdamW steps at the given
batch and sequence length. Prints one JSON line: median step seconds,
tokens/s, losses and peak RSS.

  OPENBLAS_CORETYPE=SKYLAKEX OPENBLAS_NUM_THREADS=2 /usr/bin/python3 torch_large.py DIR --steps 3 --batch 2 --seq 256
"""
import argparse
import json
import math
import os
import resource
import struct
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def read_checkpoint(model_dir):
    """Every tensor of model.safetensors (or its shards), as stored (bf16 stays bf16)."""
    index = os.path.join(model_dir, "model.safetensors.index.json")
    files = sorted(set(json.load(open(index))["weight_map"].values())) if os.path.exists(index) else ["model.safetensors"]
    dtypes = {"BF16": torch.bfloat16, "F16": torch.float16, "F32": torch.float32}
    out = {}
    for name in files:
        with open(os.path.join(model_dir, name), "rb") as f:
            (n,) = struct.unpack("<Q", f.read(8))
            header = json.loads(f.read(n))
            base = 8 + n
            for key, info in header.items():
                if key == "__metadata__":
                    continue
                start, end = info["data_offsets"]
                f.seek(base + start)
                buf = bytearray(f.read(end - start))
                out[key] = torch.frombuffer(buf, dtype=dtypes[info["dtype"]]).reshape(info["shape"])
    return out


class Frozen(nn.Module):
    """A frozen linear whose weight stays at storage precision and is upcast per use."""

    def __init__(self, weight):
        super().__init__()
        self.register_buffer("weight", weight)

    def forward(self, x):
        return F.linear(x, self.weight.float())


class LoraLinear(nn.Module):
    def __init__(self, weight, r, alpha):
        super().__init__()
        self.base = Frozen(weight)
        out_f, in_f = weight.shape
        self.lora_A = nn.Parameter(torch.empty(r, in_f))
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))
        self.lora_B = nn.Parameter(torch.zeros(out_f, r))
        self.scaling = alpha / r

    def forward(self, x):
        return self.base(x) + (x @ self.lora_A.t() @ self.lora_B.t()) * self.scaling


def rms_norm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w.float()


def rope(x, cos, sin):
    half = x.shape[-1] // 2
    rotated = torch.cat((-x[..., half:], x[..., :half]), dim=-1)
    return x * cos + rotated * sin


class Llama(nn.Module):
    def __init__(self, cfg, w, r, alpha):
        super().__init__()
        self.cfg = cfg
        self.embed = w["model.embed_tokens.weight"]
        self.head = w.get("lm_head.weight", self.embed)
        self.norm = w["model.norm.weight"]
        self.layers = nn.ModuleList()
        for i in range(cfg["num_hidden_layers"]):
            p = f"model.layers.{i}."
            layer = nn.Module()
            for name in ("q_proj", "k_proj", "v_proj", "o_proj"):
                setattr(layer, name, LoraLinear(w[p + "self_attn." + name + ".weight"], r, alpha))
            for name in ("gate_proj", "up_proj", "down_proj"):
                setattr(layer, name, Frozen(w[p + "mlp." + name + ".weight"]))
            layer.ln1 = w[p + "input_layernorm.weight"]
            layer.ln2 = w[p + "post_attention_layernorm.weight"]
            self.layers.append(layer)

    def forward(self, ids, labels):
        cfg = self.cfg
        b, s = ids.shape
        heads, kv = cfg["num_attention_heads"], cfg.get("num_key_value_heads", cfg["num_attention_heads"])
        d = cfg["hidden_size"] // heads
        eps = cfg.get("rms_norm_eps", 1e-6)
        inv = 1.0 / (cfg.get("rope_theta", 10000.0) ** (torch.arange(0, d, 2).float() / d))
        freqs = torch.outer(torch.arange(s).float(), inv)
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos(), emb.sin()
        mask = torch.full((s, s), float("-inf")).triu(1)
        h = self.embed[ids].float()
        for L in self.layers:
            x = rms_norm(h, L.ln1, eps)
            q = L.q_proj(x).view(b, s, heads, d).transpose(1, 2)
            k = L.k_proj(x).view(b, s, kv, d).transpose(1, 2)
            v = L.v_proj(x).view(b, s, kv, d).transpose(1, 2)
            q, k = rope(q, cos, sin), rope(k, cos, sin)
            k = k.repeat_interleave(heads // kv, dim=1)
            v = v.repeat_interleave(heads // kv, dim=1)
            att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d) + mask, dim=-1)
            h = h + L.o_proj((att @ v).transpose(1, 2).reshape(b, s, -1))
            x = rms_norm(h, L.ln2, eps)
            h = h + L.down_proj(F.silu(L.gate_proj(x)) * L.up_proj(x))
        logits = F.linear(rms_norm(h, self.norm, eps), self.head.float())
        return F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), labels[:, 1:].reshape(-1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--seq", type=int, default=256)
    args = ap.parse_args()
    torch.set_num_threads(int(os.environ.get("OPENBLAS_NUM_THREADS", "2")))
    torch.manual_seed(0)
    started = time.time()
    cfg = json.load(open(os.path.join(args.model, "config.json")))
    model = Llama(cfg, read_checkpoint(args.model), 16, 32)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4, weight_decay=0.0)
    vocab = cfg["vocab_size"]
    times, losses, first = [], [], None
    for step in range(args.steps):
        ids = torch.tensor([((i + 7919 * step) * 2654435761 % 2**32 >> 8) % vocab for i in range(args.batch * args.seq)]).view(args.batch, args.seq)
        t0 = time.time()
        loss = model(ids, ids)
        loss.backward()
        torch.nn.utils.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], 1.0)
        opt.step()
        opt.zero_grad()
        times.append(time.time() - t0)
        losses.append(loss.item())
        if first is None:
            first = time.time() - started
    timed = sorted(times[1:] if len(times) > 1 else times)
    median = timed[len(timed) // 2]
    print(json.dumps({
        "torch": torch.__version__,
        "firstStepSeconds": first,
        "stepSeconds": times,
        "tokensPerSecond": args.batch * args.seq / median,
        "losses": losses,
        "peakRssMB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6,
    }))


if __name__ == "__main__":
    main()
