#!/usr/bin/python3
"""PyTorch parity check for Spotlight's encoder-decoder Transformer.

A C++ test writes a dump directory (meta.json, batch.json, model.safetensors,
grads.safetensors, outputs.safetensors). This script rebuilds the same model
independently in PyTorch, in float64 from the dumped float32 weights, runs the
same batch and compares, per tensor, with the test suite's mixed rule
(tests/support/near.h) on norms:
    ||cpp - ref|| <= atol + tol * ||ref||,   atol = 64 * eps32 * sqrt(n) * max|ref|
(eps32 = 2^-23: float32 rounding at the tensor's own scale, which a relative bar
alone misses for small entries), of:
  * the logits [B, T, V] at every position (padding included),
  * the label-smoothed cross-entropy loss,
  * the gradient of every parameter (torch autograd vs grads.safetensors).
    The k_proj.bias gradients are zero in exact arithmetic (see main): both sides
    hold rounding noise only, so the C++ value is checked against 0 absolutely,
    ||cpp|| <= 64 * eps32 * sqrt(n) * max|ref k_proj.weight gradient| (the scale
    of the terms that cancel), never by a relative error.
It also checks that the dumped parameter names and shapes are exactly those the
model configuration in meta.json implies.

Usage: /usr/bin/python3 tests/torch_parity.py DUMP_DIR [--tol 1e-4]
Exit status: 0 all match, 1 some tensor exceeds the tolerance, 2 malformed dump,
3 PyTorch not available.
"""
import argparse
import json
import math
import os
import struct
import sys

try:
    import numpy as np
    import torch
    import torch.nn.functional as F
except Exception:  # ImportError, or a broken install failing to load its libraries
    print("torch_parity.py: PyTorch not found for /usr/bin/python3 — "
          "run scripts/install_deps.sh (installs python3-torch)", file=sys.stderr)
    sys.exit(3)


class DumpError(Exception):
    """The dump directory is incomplete or inconsistent (exit status 2)."""


def read_safetensors(path):
    """Strict reader for float32 safetensors files: returns {name: float64 ndarray}."""
    if not os.path.isfile(path):
        raise DumpError(f"missing file {path}")
    with open(path, "rb") as f:
        blob = f.read()
    if len(blob) < 8:
        raise DumpError(f"{path}: shorter than the 8-byte header length")
    (n,) = struct.unpack("<Q", blob[:8])
    if n > len(blob) - 8:
        raise DumpError(f"{path}: header length {n} exceeds file size {len(blob)}")
    try:
        header = json.loads(blob[8:8 + n].decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise DumpError(f"{path}: header is not valid JSON ({e})") from None
    if not isinstance(header, dict):
        raise DumpError(f"{path}: header is not a JSON object")
    data = memoryview(blob)[8 + n:]
    tensors, spans = {}, []
    for name, info in header.items():
        if name == "__metadata__":
            continue
        try:
            dtype, shape, (begin, end) = info["dtype"], info["shape"], info["data_offsets"]
        except (TypeError, KeyError, ValueError):
            raise DumpError(f"{path}: bad header entry for '{name}'") from None
        if dtype != "F32":
            raise DumpError(f"{path}: '{name}' has dtype {dtype}, expected F32")
        if not (isinstance(shape, list) and all(isinstance(d, int) and d >= 0 for d in shape)):
            raise DumpError(f"{path}: '{name}' has invalid shape {shape}")
        if not (isinstance(begin, int) and isinstance(end, int) and 0 <= begin <= end <= len(data)):
            raise DumpError(f"{path}: '{name}' offsets [{begin}, {end}) outside the "
                            f"{len(data)}-byte data section (truncated file?)")
        if end - begin != math.prod(shape) * 4:
            raise DumpError(f"{path}: '{name}' spans {end - begin} bytes but shape {shape} "
                            f"needs {math.prod(shape) * 4}")
        spans.append((begin, end, name))
        tensors[name] = np.frombuffer(data[begin:end], dtype="<f4").reshape(shape).astype(np.float64)
    spans.sort()
    for (_, e0, a), (b1, _, b) in zip(spans, spans[1:]):
        if b1 < e0:
            raise DumpError(f"{path}: data of '{a}' and '{b}' overlap")
    return tensors


def load_json(path):
    if not os.path.isfile(path):
        raise DumpError(f"missing file {path}")
    try:
        with open(path) as f:
            return json.load(f)
    except ValueError as e:
        raise DumpError(f"{path}: invalid JSON ({e})") from None


def check_meta(m):
    ints = ["vocab", "d_model", "heads", "ffn", "encoder_layers", "decoder_layers", "pad_id"]
    for k in ints + ["norm", "activation", "label_smoothing", "layer_norm_eps", "loss"]:
        if k not in m:
            raise DumpError(f"meta.json: missing key '{k}'")
    if not all(isinstance(m[k], int) and m[k] >= 0 for k in ints):
        raise DumpError("meta.json: " + ", ".join(ints) + " must be non-negative integers")
    if m["d_model"] <= 0 or m["heads"] <= 0 or m["d_model"] % m["heads"] or m["d_model"] % 2:
        raise DumpError("meta.json: d_model must be even and divisible by heads")
    if not all(isinstance(m[k], (int, float)) for k in ("label_smoothing", "layer_norm_eps", "loss")):
        raise DumpError("meta.json: label_smoothing, layer_norm_eps and loss must be numbers")
    if m["norm"] not in ("pre", "post") or m["activation"] not in ("relu", "gelu"):
        raise DumpError("meta.json: norm must be pre/post and activation relu/gelu")


def check_batch(batch, m):
    """Returns (src, tgt_in, tgt_out) as int64 tensors after validating them."""
    out = []
    for key in ("src", "tgt_in", "tgt_out"):
        rows = batch.get(key) if isinstance(batch, dict) else None
        if not (isinstance(rows, list) and rows and all(isinstance(r, list) and r for r in rows)
                and len({len(r) for r in rows}) == 1
                and all(isinstance(t, int) and 0 <= t < m["vocab"] for r in rows for t in r)):
            raise DumpError(f"batch.json: '{key}' must be a non-empty rectangular list of "
                            f"token ids in [0, {m['vocab']})")
        out.append(torch.tensor(rows, dtype=torch.int64))
    src, tgt_in, tgt_out = out
    if tgt_in.shape != tgt_out.shape or src.shape[0] != tgt_in.shape[0]:
        raise DumpError(f"batch.json: shapes src {list(src.shape)}, tgt_in {list(tgt_in.shape)}, "
                        f"tgt_out {list(tgt_out.shape)} are inconsistent")
    pad = m["pad_id"]
    if (src == pad).all(1).any() or (tgt_in[:, 0] == pad).any():
        raise DumpError("batch.json: a src row is all padding or a tgt_in row starts with "
                        "padding (fully masked attention row, softmax undefined)")
    return src, tgt_in, tgt_out


def param_shapes(m):
    """Every parameter name the configuration implies, in a stable order, with its shape."""
    V, D, Fd = m["vocab"], m["d_model"], m["ffn"]
    shapes = {"embed_tokens.weight": (V, D)}

    def linear(p, o, i):
        shapes[p + ".weight"], shapes[p + ".bias"] = (o, i), (o,)

    def norm(p):
        shapes[p + ".weight"], shapes[p + ".bias"] = (D,), (D,)
    for stack, n, blocks in (("encoder", m["encoder_layers"], ["self_attn"]),
                             ("decoder", m["decoder_layers"], ["self_attn", "encoder_attn"])):
        for i in range(n):
            p = f"{stack}.layers.{i}."
            for b in blocks:
                for proj in ("q_proj", "k_proj", "v_proj", "out_proj"):
                    linear(p + b + "." + proj, D, D)
                norm(p + b + "_layer_norm")
            linear(p + "fc1", Fd, D)
            linear(p + "fc2", D, Fd)
            norm(p + "final_layer_norm")
        if m["norm"] == "pre":
            norm(stack + ".layer_norm")
    return shapes


def check_names(tensors, expected, what):
    missing = [n for n in expected if n not in tensors]
    extra = sorted(set(tensors) - set(expected))
    bad = [f"{n}: {list(tensors[n].shape)} != {list(s)}" for n, s in expected.items()
           if n in tensors and tensors[n].shape != s]
    problems = ([f"missing {n}" for n in missing] + [f"unexpected {n}" for n in extra]
                + [f"shape {b}" for b in bad])
    if problems:
        raise DumpError(f"{what}: parameter names/shapes differ from the model:\n  "
                        + "\n  ".join(problems))


def forward(P, m, src, tgt_in, tgt_out):
    """Reference forward pass; returns (logits [B, T, V], loss)."""
    D, H, pad, eps = m["d_model"], m["heads"], m["pad_id"], m["layer_norm_eps"]
    Dh, pre = D // H, m["norm"] == "pre"
    act = torch.relu if m["activation"] == "relu" else F.gelu  # F.gelu default is erf-exact
    E = P["embed_tokens.weight"]

    def lin(x, p):
        return x @ P[p + ".weight"].T + P[p + ".bias"]

    def ln(x, p):
        mu = x.mean(-1, keepdim=True)
        var = ((x - mu) ** 2).mean(-1, keepdim=True)  # biased variance
        return (x - mu) / torch.sqrt(var + eps) * P[p + ".weight"] + P[p + ".bias"]

    def attn(xq, xkv, p, masked):  # masked: bool [B, Tq or 1, Tk], True = key hidden
        B, Tq = xq.shape[:2]
        q, k, v = (lin(x, f"{p}.{n}_proj").view(B, -1, H, Dh).transpose(1, 2)
                   for x, n in ((xq, "q"), (xkv, "k"), (xkv, "v")))
        scores = (q @ k.transpose(-1, -2) / math.sqrt(Dh)).masked_fill(masked[:, None], -math.inf)
        ctx = (torch.softmax(scores, -1) @ v).transpose(1, 2).reshape(B, Tq, D)
        return lin(ctx, p + ".out_proj")

    def embed(ids):
        pos = torch.arange(ids.shape[1], dtype=torch.float64)[:, None]
        div = torch.exp(torch.arange(0, D, 2, dtype=torch.float64) * (-math.log(10000.0) / D))
        pe = torch.zeros(ids.shape[1], D, dtype=torch.float64)
        pe[:, 0::2], pe[:, 1::2] = torch.sin(pos * div), torch.cos(pos * div)
        return E[ids] * math.sqrt(D) + pe

    def layer(x, p, sublayers):  # sublayers: [(layer-norm name, function)]
        for norm, fn in sublayers:
            x = x + fn(ln(x, p + norm)) if pre else ln(x + fn(x), p + norm)
        return x

    def ffn(p):
        return lambda h: lin(act(lin(h, p + "fc1")), p + "fc2")

    T = tgt_in.shape[1]
    src_mask = (src == pad)[:, None, :]
    causal = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
    tgt_mask = causal[None] | (tgt_in == pad)[:, None, :]

    x = embed(src)
    for i in range(m["encoder_layers"]):
        p = f"encoder.layers.{i}."
        x = layer(x, p, [("self_attn_layer_norm", lambda h: attn(h, h, p + "self_attn", src_mask)),
                         ("final_layer_norm", ffn(p))])
    memory = ln(x, "encoder.layer_norm") if pre else x

    y = embed(tgt_in)
    for i in range(m["decoder_layers"]):
        p = f"decoder.layers.{i}."
        y = layer(y, p, [
            ("self_attn_layer_norm", lambda h: attn(h, h, p + "self_attn", tgt_mask)),
            ("encoder_attn_layer_norm", lambda h: attn(h, memory, p + "encoder_attn", src_mask)),
            ("final_layer_norm", ffn(p))])
    if pre:
        y = ln(y, "decoder.layer_norm")
    logits = y @ E.T
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt_out.reshape(-1),
                           ignore_index=pad, label_smoothing=float(m["label_smoothing"]))
    return logits, loss


EPS32 = 2.0 ** -23  # float32 epsilon


def compare(a, b, tol, zero_scale=None):
    """(||a - b|| / ||b||, ||a - b|| in units of its bar): the mixed rule of the module
    docstring; with zero_scale (b is an exact zero) the bar is 64 eps32 sqrt(n) zero_scale."""
    a, b = np.ravel(a), np.ravel(b)
    diff, ref = np.linalg.norm(a - b), np.linalg.norm(b)
    noise = 64 * EPS32 * math.sqrt(a.size)
    if zero_scale is not None:
        bar = noise * zero_scale
    else:
        bar = noise * (np.max(np.abs(b)) if b.size else 0.0) + tol * ref
    rel = diff / ref if ref > 0 else diff
    return rel, (diff / bar if bar > 0 else (0.0 if diff == 0 else math.inf))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dump_dir")
    ap.add_argument("--tol", type=float, default=1e-4,
                    help="relative bar per tensor (plus float32 noise at its scale)")
    args = ap.parse_args()
    d = args.dump_dir
    try:
        m = load_json(os.path.join(d, "meta.json"))
        if not isinstance(m, dict):
            raise DumpError("meta.json: not a JSON object")
        check_meta(m)
        src, tgt_in, tgt_out = check_batch(load_json(os.path.join(d, "batch.json")), m)
        expected = param_shapes(m)
        weights = read_safetensors(os.path.join(d, "model.safetensors"))
        grads = read_safetensors(os.path.join(d, "grads.safetensors"))
        outputs = read_safetensors(os.path.join(d, "outputs.safetensors"))
        check_names(weights, expected, "model.safetensors")
        check_names(grads, expected, "grads.safetensors")
        want = (tgt_in.shape[0], tgt_in.shape[1], m["vocab"])
        if "logits" not in outputs or outputs["logits"].shape != want:
            got = list(outputs["logits"].shape) if "logits" in outputs else "missing"
            raise DumpError(f"outputs.safetensors: 'logits' is {got}, expected {list(want)}")
    except DumpError as e:
        print(f"torch_parity.py: malformed dump in {d}: {e}", file=sys.stderr)
        return 2

    P = {n: torch.tensor(w, dtype=torch.float64, requires_grad=True) for n, w in weights.items()}
    logits, loss = forward(P, m, src, tgt_in, tgt_out)
    loss.backward()

    ref_grad = {n: P[n].grad.numpy() for n in expected}  # every parameter is used
    # rows: (name, shape, C++ value, reference, None, or the scale of an exact zero's terms)
    rows = [("logits", list(want), outputs["logits"], logits.detach().numpy(), None),
            ("loss", [], m["loss"], loss.item(), None)]
    for n, s in expected.items():
        if n.endswith("k_proj.bias"):
            # Adding the key bias shifts every score of a query row by the same amount, which
            # softmax ignores: this gradient is exactly 0 and both sides hold only rounding
            # noise. Checked against 0 absolutely, at the scale of the k_proj.weight gradient.
            rows.append(("grad " + n + " (=0)", list(s), grads[n], np.zeros(s),
                         float(np.max(np.abs(ref_grad[n[:-len("bias")] + "weight"])))))
        else:
            rows.append(("grad " + n, list(s), grads[n], ref_grad[n], None))
    width = max(len(r[0]) for r in rows)
    print(f"{'tensor':<{width}}  {'shape':<16} {'rel.err':>10} {'err/bar':>10}  result   "
          f"(tol {args.tol:g} + float32 noise)")
    failures = 0
    for name, shape, cpp, ref, zero_scale in rows:
        rel, excess = compare(np.asarray(cpp, dtype=np.float64), np.asarray(ref, dtype=np.float64),
                              args.tol, zero_scale)
        ok = bool(np.isfinite(excess) and excess <= 1.0)
        failures += not ok
        print(f"{name:<{width}}  {str(shape):<16} {rel:10.3e} {excess:10.3e}  "
              f"{'ok' if ok else 'FAIL'}")
    print(f"{len(rows) - failures}/{len(rows)} tensors within tolerance; "
          f"loss C++ {m['loss']:.8g} vs torch {loss.item():.8g}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
