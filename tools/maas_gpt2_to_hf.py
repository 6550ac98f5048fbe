#!/usr/bin/env python3
"""Write a GPT-2 .maas file back out as a Hugging Face checkpoint folder.

The peer benchmarks need the random GPT-2 124M weights of
build/bench/bench_gpt2 in the formats other engines read.  This script reads
the .maas file that bench_gpt2 writes (docs/FORMAT.md) and transposes the
four Conv1D weights back to the [in, out] layout of Hugging Face
checkpoints.  It loads them into transformers' GPT2LMHeadModel, which
raises on a misshapen tensor (a missing or unexpected name exits here), and
saves the model with save_pretrained.  Converting the folder back with
maas-convert gives tensors equal to those of an f32 input file.
The folder gets the GPT-2 vocab.json and merges.txt of
tests/fixtures/tokenizers/gpt2, so converters that need a tokenizer (such
as llama.cpp's convert_hf_to_gguf.py) accept it.

f16 weights in the .maas file are widened to f32, so both
gpt2-124m-random-f32.maas and -f16.maas give an f32 checkpoint.

Run from the repository root, after build/bench/bench_gpt2 has written the
weights:
  /work/venv/bin/python tools/maas_gpt2_to_hf.py \
      build/cache/gpt2-124m-random-f32.maas build/cache/gpt2-124m-random-hf
"""
import argparse
import json
import os
import shutil
import struct

import numpy as np
import torch
from transformers import GPT2Config, GPT2LMHeadModel

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOKENIZER_DIR = os.path.join(ROOT, "tests", "fixtures", "tokenizers", "gpt2")
DTYPES = {0: np.float32, 1: np.float16}
CONV1D = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight")


class Reader:
    """Little-endian cursor over the metadata of a .maas file."""

    def __init__(self, data):
        self.data = data
        self.pos = 0

    def take(self, fmt):
        values = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values[0] if len(values) == 1 else values

    def string(self):
        n = self.take("I")
        text = bytes(self.data[self.pos:self.pos + n]).decode("utf-8", "replace")
        self.pos += n + 1  # the NUL terminator
        return text

    def value(self, kind):
        """Read one key/value value of type code `kind` (docs/FORMAT.md, 2.2)."""
        if kind in (0, 1, 2):
            return self.take({0: "I", 1: "i", 2: "f"}[kind])
        if kind == 3:
            return bool(self.take("B"))
        if kind == 4:
            return self.string()
        if kind == 5:
            return [self.string() for _ in range(self.take("I"))]
        if kind == 6:
            count = self.take("I")
            self.pos += -self.pos % 4
            values = list(struct.unpack_from("<%di" % count, self.data, self.pos))
            self.pos += 4 * count
            return values
        if kind == 7:
            return self.take("d")
        raise ValueError("unknown .maas value type %d; this script reads codes 0 to 7" % kind)


def read_maas(path):
    """Return (architecture, key/values, {name: float32 array}) of a .maas file."""
    data = np.memmap(path, dtype=np.uint8, mode="r")
    if bytes(data[:4]) != b"MAAS":
        raise ValueError("%s is not a .maas file (the magic is not MAAS)" % path)
    version, n_keys, n_tensors, data_offset = struct.unpack_from("<IIIQ", data, 4)
    if version != 1:
        raise ValueError("%s has format version %d; this script reads version 1" % (path, version))
    reader = Reader(data)
    reader.pos = 64
    arch = reader.string()
    keys = {}
    for _ in range(n_keys):
        key = reader.string()
        keys[key] = reader.value(reader.take("I"))
    tensors = {}
    for _ in range(n_tensors):
        name = reader.string()
        dtype, n_dims = reader.take("II")
        shape = reader.take("%dQ" % n_dims)
        shape = (shape,) if n_dims == 1 else tuple(shape)
        offset, size = reader.take("QQ")
        if dtype not in DTYPES:
            raise ValueError("tensor %s has dtype code %d; only f32 (0) and f16 (1) are read"
                             % (name, dtype))
        start = data_offset + offset
        raw = data[start:start + size].view(DTYPES[dtype]).reshape(shape)
        tensors[name] = np.array(raw, dtype=np.float32)
    return arch, keys, tensors


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("maas", help="GPT-2 .maas file, e.g. build/cache/gpt2-124m-random-f32.maas")
    parser.add_argument("out", help="output folder for config.json, model.safetensors and the tokenizer")
    args = parser.parse_args()

    arch, keys, tensors = read_maas(args.maas)
    if arch != "gpt2":
        raise SystemExit("%s has architecture %r; expected gpt2" % (args.maas, arch))
    config = GPT2Config(
        vocab_size=keys["vocab_size"], n_positions=keys["n_positions"], n_embd=keys["n_embd"],
        n_layer=keys["n_layer"], n_head=keys["n_head"], n_inner=keys.get("n_inner"),
        layer_norm_epsilon=keys["layer_norm_epsilon"],
        activation_function=keys.get("activation_function", "gelu_new"),
        eos_token_id=keys.get("eos_token_id", keys["vocab_size"] - 1),
        bos_token_id=keys.get("bos_token_id", keys["vocab_size"] - 1),
        tie_word_embeddings=keys.get("tie_word_embeddings", True))

    state = {}
    for name, array in tensors.items():
        if name.endswith(CONV1D):
            array = array.T  # .maas stores [out, in]; Conv1D checkpoints store [in, out]
        state["transformer." + name] = torch.from_numpy(np.ascontiguousarray(array))
    model = GPT2LMHeadModel(config)
    # lm_head.weight is tied to wte, so it is the only key the .maas file lacks.
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if k != "lm_head.weight" and not k.endswith(".attn.bias")]
    if missing or unexpected:
        raise SystemExit("tensor names do not match GPT2LMHeadModel: missing %s, unexpected %s"
                         % (missing, unexpected))
    model.save_pretrained(args.out, safe_serialization=True)

    # transformers 5 no longer writes n_ctx, but the original gpt2
    # config.json has it and llama.cpp's GPT-2 converter reads it.
    config_path = os.path.join(args.out, "config.json")
    with open(config_path) as f:
        saved = json.load(f)
    saved.setdefault("n_ctx", config.n_positions)
    with open(config_path, "w") as f:
        json.dump(saved, f, indent=2)
    for name in ("vocab.json", "merges.txt"):
        shutil.copy(os.path.join(TOKENIZER_DIR, name), os.path.join(args.out, name))
    print("wrote %s (%d tensors from %s)" % (args.out, len(tensors), args.maas))


if __name__ == "__main__":
    main()
