"""PyTorch peer of the lowrank benchmark.

The same LLaMA-shaped model and LoRA step as every other implementation in the
race, written the way a PyTorch user writes it: nn.Module, autograd and
torch.optim.AdamW. The harness drives it over JSON lines on stdin/stdout:
  {"cmd": "init", "weights": PATH, "config": {...}}
  {"cmd": "reference", "weights": PATH, "config": {...}}  (float64 loss and gradient norm)
  {"cmd": "time", "steps": N}
  {"cmd": "matmul", "shapes": [[m, k, n], ...], "reps": N}
  {"cmd": "memory"}
  {"cmd": "exit"}
Every reply is one JSON object with "ok". Logs go to stderr.
"""
import json
import math
import resource
import struct
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

PROTOCOL_OUT = sys.stdout
sys.stdout = sys.stderr  # anything else printed must not corrupt the protocol


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    base = 8 + n
    dtypes = {"F32": torch.float32, "I32": torch.int32}
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        buf = bytearray(raw[base + start : base + end])
        out[name] = torch.frombuffer(buf, dtype=dtypes[info["dtype"]]).reshape(info["shape"])
    return out


class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


class LoraLinear(nn.Module):
    """A frozen linear plus scaling * B(A(x)), as PEFT's LoRA layer computes it (dropout 0).
    With dora, PEFT's DoRA: both terms scaled by m / ||W + s*B*A||_row, the norm detached."""

    def __init__(self, d_in, d_out, r, alpha, dora=False):
        super().__init__()
        self.base_layer = nn.Linear(d_in, d_out, bias=False)
        self.lora_A = nn.Linear(d_in, r, bias=False)
        self.lora_B = nn.Linear(r, d_out, bias=False)
        self.scaling = alpha / r
        self.lora_magnitude_vector = nn.Parameter(torch.ones(d_out)) if dora else None

    def forward(self, x):
        out = self.base_layer(x) + self.lora_B(self.lora_A(x)) * self.scaling
        if self.lora_magnitude_vector is None:
            return out
        merged = self.base_layer.weight + self.scaling * (self.lora_B.weight @ self.lora_A.weight)
        norm = merged.norm(p=2, dim=1).detach()
        return out * (self.lora_magnitude_vector / norm)


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class Attention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d, r, a = cfg["hiddenSize"], cfg["loraRank"], cfg["loraAlpha"]
        self.heads = cfg["numHeads"]
        self.head_dim = d // self.heads
        targets = set(cfg["loraTargets"])
        dora = cfg.get("variant") == "dora"
        make = lambda name: LoraLinear(d, d, r, a, dora) if name in targets else nn.Linear(d, d, bias=False)
        self.q_proj, self.k_proj, self.v_proj, self.o_proj = (make(n) for n in ("q_proj", "k_proj", "v_proj", "o_proj"))

    def forward(self, x, cos, sin, mask):
        b, s, d = x.shape
        split = lambda t: t.view(b, s, self.heads, self.head_dim).transpose(1, 2)
        q, k, v = split(self.q_proj(x)), split(self.k_proj(x)), split(self.v_proj(x))
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.head_dim) + mask
        probs = torch.softmax(scores, dim=-1)
        out = torch.matmul(probs, v).transpose(1, 2).reshape(b, s, d)
        return self.o_proj(out)


class MLP(nn.Module):
    def __init__(self, d, f):
        super().__init__()
        self.gate_proj = nn.Linear(d, f, bias=False)
        self.up_proj = nn.Linear(d, f, bias=False)
        self.down_proj = nn.Linear(f, d, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Block(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.input_layernorm = RMSNorm(cfg["hiddenSize"], cfg["rmsNormEps"])
        self.self_attn = Attention(cfg)
        self.post_attention_layernorm = RMSNorm(cfg["hiddenSize"], cfg["rmsNormEps"])
        self.mlp = MLP(cfg["hiddenSize"], cfg["intermediateSize"])

    def forward(self, x, cos, sin, mask):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, mask)
        return x + self.mlp(self.post_attention_layernorm(x))


class LlamaLora(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.embed_tokens = nn.Embedding(cfg["vocabSize"], cfg["hiddenSize"])
        self.layers = nn.ModuleList(Block(cfg) for _ in range(cfg["numLayers"]))
        self.norm = RMSNorm(cfg["hiddenSize"], cfg["rmsNormEps"])
        self.lm_head = nn.Linear(cfg["hiddenSize"], cfg["vocabSize"], bias=False)

    def forward(self, input_ids, labels):
        s = input_ids.shape[1]
        head_dim = self.cfg["hiddenSize"] // self.cfg["numHeads"]
        dtype = self.lm_head.weight.dtype
        inv_freq = 1.0 / (self.cfg["ropeTheta"] ** (torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim))
        freqs = torch.outer(torch.arange(s, dtype=torch.float64), inv_freq)
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos().to(dtype), emb.sin().to(dtype)
        mask = torch.full((s, s), float("-inf"), dtype=dtype).triu(1)
        x = self.embed_tokens(input_ids)
        for layer in self.layers:
            x = layer(x, cos, sin, mask)
        logits = self.lm_head(self.norm(x))
        return F.cross_entropy(logits.view(-1, logits.shape[-1]), labels.reshape(-1).long())


def hf_name(module_name):
    """Our module names to Hugging Face / PEFT parameter names."""
    name = module_name.replace(".base_layer.", ".")
    return name if name.startswith("lm_head") else "model." + name


def build(cfg, tensors):
    model = LlamaLora(cfg)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("lora_magnitude_vector"):  # PEFT's init: row norms of W
                w = tensors[hf_name(name.replace("lora_magnitude_vector", "base_layer.weight"))]
                p.copy_(w.double().norm(p=2, dim=1))
            else:
                p.copy_(tensors[hf_name(name)])
            p.requires_grad_(".lora_" in name)
    return model


class Peer:
    def __init__(self):
        self.model = None

    def init(self, msg):
        t0 = time.perf_counter()
        cfg = msg["config"]
        tensors = read_safetensors(msg["weights"])
        self.input_ids = tensors["input_ids"].long()
        self.labels = tensors["labels"].long()
        reply = {}
        self.model = build(cfg, tensors)
        del tensors
        trainable = [p for p in self.model.parameters() if p.requires_grad]
        self.opt = torch.optim.AdamW(
            trainable, lr=cfg["lr"], betas=(cfg["beta1"], cfg["beta2"]), eps=cfg["adamEps"], weight_decay=cfg["weightDecay"]
        )
        reply["rssBeforeFirstStepBytes"] = rss_now()
        tf0 = time.perf_counter()
        first = self.step(measure_grad=True)
        reply["firstStepMs"] = (time.perf_counter() - tf0) * 1e3
        second = self.step()
        reply.update(loss=first["loss"], gradNorm=first["gradNorm"], lossAfterStep=second["loss"])
        reply["setupMs"] = (time.perf_counter() - t0) * 1e3
        reply["compileMs"] = 0.0  # eager: nothing to compile
        reply["rssAfterInitBytes"] = rss_now()
        reset_peak_rss()
        return reply

    def reference(self, msg):
        """Loss and LoRA gradient norm in float64: the oracle the race checks against.
        Run in its own process so its float64 copy does not inflate the peer's peak RSS."""
        tensors = read_safetensors(msg["weights"])
        self.input_ids = tensors["input_ids"].long()
        self.labels = tensors["labels"].long()
        cfg = dict(msg["config"], variant=msg.get("variant", "lora"))
        model = build(cfg, tensors).double()
        loss = model(self.input_ids, self.labels)
        loss.backward()
        norm = math.sqrt(sum(float((p.grad ** 2).sum()) for p in model.parameters() if p.requires_grad))
        return {"loss": float(loss), "gradNorm": norm}

    def step(self, measure_grad=False):
        self.opt.zero_grad(set_to_none=True)
        loss = self.model(self.input_ids, self.labels)
        loss.backward()
        out = {"loss": float(loss.detach())}
        if measure_grad:
            with torch.no_grad():
                out["gradNorm"] = math.sqrt(sum(float((p.grad ** 2).sum()) for p in self.model.parameters() if p.requires_grad))
        self.opt.step()
        return out

    def time(self, msg):
        times, losses = [], []
        for _ in range(msg["steps"]):
            t = time.perf_counter()
            r = self.step()
            times.append((time.perf_counter() - t) * 1e3)
            losses.append(r["loss"])
        return {"times": times, "losses": losses}

    def matmul(self, msg):
        rates = []
        for m, k, n in msg["shapes"]:
            a, b = torch.randn(m, k), torch.randn(k, n)
            for _ in range(3):
                torch.mm(a, b)
            samples = []
            for _ in range(msg["reps"]):
                t = time.perf_counter()
                torch.mm(a, b)
                samples.append(time.perf_counter() - t)
            samples.sort()
            rates.append({"shape": [m, k, n], "gflops": 2 * m * k * n / samples[len(samples) // 2] / 1e9})
        return {"rates": rates}


def rss_now():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def reset_peak_rss():
    """Linux: writing 5 to clear_refs resets VmHWM, so later peaks exclude setup."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError as e:
        print(f"torch peer: cannot reset peak RSS ({e})", file=sys.stderr)


def peak_since_reset():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def main():
    torch.manual_seed(0)
    peer = Peer()
    for line in sys.stdin:
        msg = json.loads(line)
        cmd = msg["cmd"]
        try:
            if cmd == "init":
                reply = peer.init(msg)
            elif cmd == "reference":
                reply = peer.reference(msg)
            elif cmd == "time":
                reply = peer.time(msg)
            elif cmd == "matmul":
                reply = peer.matmul(msg)
            elif cmd == "memory":
                reply = {
                    "maxRssBytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                    "stepPeakRssBytes": peak_since_reset(),
                }
            elif cmd == "info":
                reply = {"torch": torch.__version__, "threads": torch.get_num_threads()}
            elif cmd == "exit":
                PROTOCOL_OUT.write(json.dumps({"ok": True}) + "\n")
                PROTOCOL_OUT.flush()
                return
            else:
                raise ValueError(f"unknown command {cmd!r}")
            reply["ok"] = True
        except Exception as e:  # reported to the harness, which fails the run with it
            reply = {"ok": False, "error": f"{type(e).__name__}: {e}"}
        PROTOCOL_OUT.write(json.dumps(reply) + "\n")
        PROTOCOL_OUT.flush()


if __name__ == "__main__":
    main()
