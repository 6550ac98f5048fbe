#!/usr/bin/env python3
"""Build the GPT-2 test fixtures and their golden outputs.

Writes two small randomly initialised GPT2LMHeadModel checkpoints as Hugging
Face folders (config.json, model.safetensors, vocab.json, merges.txt,
tokenizer files) and, for each, the outputs of transformers that the C tests
compare against:

  tests/fixtures/gpt2-tiny/   n_embd 32, 4 heads, 2 layers, tied LM head
  tests/fixtures/gpt2-odd/    n_embd 36, 3 heads, 3 layers, n_inner 100,
                              untied LM head, layer_norm_epsilon 1e-4
  tests/fixtures/golden/gpt2-*.json and .bin (see write_golden)

The byte-level BPE vocabulary is trained with the `tokenizers` library on a
small English and Chinese text, so the vocab.json and merges.txt are real
GPT-2-format files and multi-byte characters split across tokens.

The model is initialised with a larger standard deviation than GPT-2's 0.02
so that its logits are spread out: greedy decoding then never depends on a
near tie that float rounding could flip.  The script checks that margin.

Run from the repository root with the project venv:
    /work/venv/bin/python tools/make_gpt2_fixtures.py
Needs torch, transformers (tested with 5.25) and tokenizers; no network.
"""

import json
import os
import shutil
import sys
import tempfile

import numpy as np
import torch
from tokenizers import ByteLevelBPETokenizer
from transformers import GPT2Config, GPT2LMHeadModel, GPT2Tokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "tests", "fixtures")
GOLDEN = os.path.join(FIXTURES, "golden")
EOS = "<|endoftext|>"

# Training text for the vocabulary: English and Chinese, so that the
# fixtures exercise multi-byte UTF-8 split across tokens.
CORPUS = [
    "Hello, my name is Ada. I like to read books about machines and language.",
    "The quick brown fox jumps over the lazy dog. The dog did not mind at all.",
    "A language model predicts the next token from the tokens before it.",
    "Once upon a time there was a small computer that wanted to write stories.",
    "Questions and answers: what is the capital of France? It is Paris.",
    "We serve models on CPUs with hand-written kernels and careful tests.",
    "User: How are you today?\nAssistant: I am fine, thank you for asking.",
    "Numbers like 12, 345 and 6789 appear in text too, as do symbols: #, @, %.",
    "你好，世界。我们在中央处理器上运行语言模型。",
    "今天天气很好，我们去公园散步吧。",
    "机器学习是人工智能的一个分支。你好吗？我很好，谢谢。",
]

# Prompts whose logits are recorded at every position.  Each fixture runs
# all of them; the first one is also continued greedily for 64 tokens.
PROMPTS = [
    "Hello, my name is",
    "你好，世界。The dog",
]

GREEDY_NEW_TOKENS = 64
REPETITION_PENALTY = 1.3

FIXTURE_SPECS = {
    "gpt2-tiny": dict(
        seed=1234,
        vocab_size=400,
        config=dict(n_embd=32, n_head=4, n_layer=2, n_positions=96,
                    layer_norm_epsilon=1e-5, tie_word_embeddings=True),
    ),
    "gpt2-odd": dict(
        seed=4321,
        vocab_size=301,
        config=dict(n_embd=36, n_head=3, n_layer=3, n_positions=77,
                    n_inner=100, layer_norm_epsilon=1e-4,
                    tie_word_embeddings=False),
    ),
}

INIT_STD = 0.35
# Smallest accepted gap between the best and the second-best logit at any
# greedy step.  It is far above the differences between two float32
# implementations of these small models (about 1e-5).
MIN_GREEDY_MARGIN = 2e-3


def train_tokenizer(vocab_size, out_dir):
    """Train a byte-level BPE vocabulary and save vocab.json + merges.txt.

    The trainer puts the special token at id 0; GPT-2 keeps <|endoftext|>
    as the last id, so the ids are renumbered to match (BPE merges refer to
    token strings, not ids, so renumbering changes nothing else)."""
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(CORPUS * 4, vocab_size=vocab_size, min_frequency=2,
                            special_tokens=[EOS], show_progress=False)
    with tempfile.TemporaryDirectory() as tmp:
        bpe.save_model(tmp)
        with open(os.path.join(tmp, "vocab.json"), encoding="utf-8") as f:
            vocab = json.load(f)
        shutil.copy(os.path.join(tmp, "merges.txt"),
                    os.path.join(out_dir, "merges.txt"))
    ordered = sorted((i, t) for t, i in vocab.items() if t != EOS)
    renumbered = {t: n for n, (_, t) in enumerate(ordered)}
    renumbered[EOS] = len(renumbered)
    with open(os.path.join(out_dir, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(renumbered, f, ensure_ascii=False)
    return len(renumbered)


def round_matrices_to_f16(model):
    """Return a copy whose 2-D weights are rounded to float16 and back, as
    `maas-convert --dtype f16` stores them (1-D tensors stay float32)."""
    clone = GPT2LMHeadModel(model.config)
    clone.load_state_dict(model.state_dict())
    with torch.no_grad():
        for p in clone.parameters():
            if p.dim() == 2:
                p.copy_(p.half().float())
    return clone.eval()


def greedy(model, ids, **kwargs):
    out = model.generate(torch.tensor([ids]), do_sample=False,
                         max_new_tokens=GREEDY_NEW_TOKENS,
                         pad_token_id=model.config.eos_token_id, **kwargs)
    return out[0, len(ids):].tolist()


def greedy_margin(model, ids, new_ids):
    """Smallest top-1 minus top-2 logit over the greedy steps."""
    seq = torch.tensor([ids + new_ids])
    with torch.no_grad():
        logits = model(seq).logits[0, len(ids) - 1:-1]
    top2 = logits.topk(2, dim=-1).values
    return float((top2[:, 0] - top2[:, 1]).min())


def prompt_logits(model, ids):
    with torch.no_grad():
        return model(torch.tensor([ids])).logits[0].float().numpy()


def write_golden(name, model, tokenizer):
    """Write golden/NAME.json and the float32 logits files beside it."""
    f16_model = round_matrices_to_f16(model)
    prompts = []
    for index, text in enumerate(PROMPTS):
        ids = tokenizer(text)["input_ids"]
        entry = dict(text=text, ids=ids)
        for tag, m in (("", model), ("-f16", f16_model)):
            logits = prompt_logits(m, ids)
            fname = f"{name}{tag}.prompt{index}.logits.bin"
            logits.astype("<f4").tofile(os.path.join(GOLDEN, fname))
            entry["logits" + tag.replace("-", "_")] = fname
        prompts.append(entry)

    ids = prompts[0]["ids"]
    result = dict(
        fixture=name,
        vocab_size=model.config.vocab_size,
        n_positions=model.config.n_positions,
        prompts=prompts,
        greedy_prompt=0,
        greedy_new_tokens=GREEDY_NEW_TOKENS,
        repetition_penalty=REPETITION_PENALTY,
    )
    for tag, m in (("", model), ("_f16", f16_model)):
        tokens = greedy(m, ids)
        margin = greedy_margin(m, ids, tokens)
        penalised = greedy(m, ids, repetition_penalty=REPETITION_PENALTY)
        margin_rp = greedy_margin(m, ids, penalised)
        print(f"{name}{tag}: greedy margin {margin:.4f}, with repetition "
              f"penalty {margin_rp:.4f}")
        if min(margin, margin_rp) < MIN_GREEDY_MARGIN:
            sys.exit(f"{name}{tag}: greedy margin below {MIN_GREEDY_MARGIN}; "
                     "change the seed")
        result["greedy" + tag] = tokens
        result["greedy_repetition_penalty" + tag] = penalised
        result["greedy_text" + tag] = tokenizer.decode(tokens)

    with open(os.path.join(GOLDEN, name + ".json"), "w", encoding="utf-8") as f:
        json.dump(result, f, ensure_ascii=False, indent=1,
                  separators=(",", ": "))
        f.write("\n")


def make_fixture(name, spec):
    out_dir = os.path.join(FIXTURES, name)
    shutil.rmtree(out_dir, ignore_errors=True)
    os.makedirs(out_dir)

    vocab_size = train_tokenizer(spec["vocab_size"], out_dir)
    # Loaded the way a user loads a local checkpoint folder.
    tokenizer = GPT2Tokenizer.from_pretrained(out_dir, local_files_only=True)
    eos_id = tokenizer.convert_tokens_to_ids(EOS)
    assert eos_id == vocab_size - 1

    torch.manual_seed(spec["seed"])
    config = GPT2Config(vocab_size=vocab_size, bos_token_id=eos_id,
                        eos_token_id=eos_id, initializer_range=INIT_STD,
                        activation_function="gelu_new",
                        resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
                        **spec["config"])
    model = GPT2LMHeadModel(config).eval()
    # LayerNorm starts at weight 1 and bias 0.  Random values make the
    # tests check that both are applied, and in the right order.
    with torch.no_grad():
        for n, p in model.named_parameters():
            if ".ln_" in n or n.startswith("transformer.ln_f"):
                p.add_(torch.randn_like(p) * 0.2)
            elif n.endswith(".bias"):
                p.copy_(torch.randn_like(p) * 0.1)

    model.save_pretrained(out_dir, safe_serialization=True)
    tokenizer.model_max_length = config.n_positions
    tokenizer.save_pretrained(out_dir)
    write_golden(name, model, tokenizer)


def main():
    os.makedirs(GOLDEN, exist_ok=True)
    torch.set_num_threads(1)
    for name, spec in FIXTURE_SPECS.items():
        make_fixture(name, spec)
    for name in FIXTURE_SPECS:
        size = sum(os.path.getsize(os.path.join(FIXTURES, name, f))
                   for f in os.listdir(os.path.join(FIXTURES, name)))
        print(f"{name}: {size / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
