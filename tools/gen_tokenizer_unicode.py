#!/usr/bin/env python3
"""Writes lib/tokenizer/tok_unicode_overrides.h: the code points where
Hugging Face's tokenizers classify a character differently from utf8proc.

libmaas classifies characters with utf8proc's Unicode tables.  Hugging Face
tokenizers 0.23 uses other Unicode versions: GPT-2's pattern runs in
Oniguruma (newer than utf8proc 2.6's Unicode 13), and BERT's normaliser and
pre-tokenizer use the Rust unicode_categories crate (older) for categories
and Rust's char::to_lowercase (newer) for case.  They disagree only on
characters assigned in recent Unicode versions.  This script queries both
sides on every code point and writes the disagreements as ranges, with
Hugging Face's classification, so the C code can follow Hugging Face exactly.

Hugging Face's side is probed through its Python package (pre-tokenizers and
normalizers on one character at a time); utf8proc's side through ctypes on
the installed libutf8proc.  Takes about a minute.

Usage (from the repository root):
    /work/venv/bin/python tools/gen_tokenizer_unicode.py
"""
import ctypes
import ctypes.util

from tokenizers import normalizers, pre_tokenizers

OUT = "lib/tokenizer/tok_unicode_overrides.h"

lib = ctypes.CDLL(ctypes.util.find_library("utf8proc") or "libutf8proc.so.2")
lib.utf8proc_category.restype = ctypes.c_int
lib.utf8proc_category.argtypes = [ctypes.c_int32]
lib.utf8proc_tolower.restype = ctypes.c_int32
lib.utf8proc_tolower.argtypes = [ctypes.c_int32]
lib.utf8proc_decompose_char.restype = ctypes.c_ssize_t
lib.utf8proc_decompose_char.argtypes = [ctypes.c_int32, ctypes.POINTER(ctypes.c_int32), ctypes.c_ssize_t,
                                        ctypes.c_int, ctypes.POINTER(ctypes.c_int)]
lib.utf8proc_version.restype = ctypes.c_char_p

# utf8proc_category_t values.
LU, LL, LT, LM, LO = 1, 2, 3, 4, 5
MN = 6
ND, NL, NO = 9, 10, 11
PC, PD, PS, PE, PI, PF, PO = 12, 13, 14, 15, 16, 17, 18
CC, CF, CS, CO = 26, 27, 28, 29
DECOMPOSE = 1 << 3

WHITE_SPACE = {0x9, 0xA, 0xB, 0xC, 0xD, 0x20, 0x85, 0xA0, 0x1680, 0x2028, 0x2029, 0x202F, 0x205F,
               0x3000} | set(range(0x2000, 0x200B))


def utf8proc_gpt2_class(cp):
    if cp in WHITE_SPACE:
        return "S"
    cat = lib.utf8proc_category(cp)
    if cat in (LU, LL, LT, LM, LO):
        return "L"
    if cat in (ND, NL, NO):
        return "N"
    return "O"


def utf8proc_is_punct(cp):
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return cp >= 0x80 and lib.utf8proc_category(cp) in (PC, PD, PS, PE, PI, PF, PO)


def utf8proc_is_control(cp):
    return cp not in (9, 10, 13) and lib.utf8proc_category(cp) in (CC, CF, CS, CO)


def utf8proc_uncased(cp):
    buf = (ctypes.c_int32 * 16)()
    last = ctypes.c_int(0)
    n = lib.utf8proc_decompose_char(cp, buf, 16, DECOMPOSE, ctypes.byref(last))
    out = []
    for c in (buf[:n] if n > 0 else [cp]):
        if lib.utf8proc_category(c) == MN:
            continue
        out.extend([ord("i"), 0x307] if c == 0x130 else [lib.utf8proc_tolower(c)])
    return out


def ranges(cps):
    out = []
    for c in sorted(cps):
        if out and out[-1][1] == c - 1:
            out[-1][1] = c
        else:
            out.append([c, c])
    return out


def main():
    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    bert_split = pre_tokenizers.BertPreTokenizer()
    uncased = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=False,
                                         strip_accents=True, lowercase=True)
    plain = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=False,
                                       strip_accents=False, lowercase=False)

    gpt2 = {"L": [], "N": [], "O": [], "S": []}
    punct_on, punct_off = [], []
    keep, drop = [], []      # clean_text: characters kept although utf8proc classifies them as control, and the reverse
    uncased_map = []         # (cp, [normalised code points]) where the uncased form differs
    for cp in range(0x80, 0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        c = chr(cp)

        # GPT-2: which run of the pattern swallows the character.
        if len(byte_level.pre_tokenize_str("a" + c)) == 1:
            hf = "L"
        elif len(byte_level.pre_tokenize_str("1" + c)) == 1:
            hf = "N"
        elif len(byte_level.pre_tokenize_str("!" + c)) == 1:
            hf = "O"
        else:
            hf = "S"
        if hf != utf8proc_gpt2_class(cp):
            gpt2[hf].append(cp)

        # BERT pre-tokenizer: punctuation is split into a word of its own.
        if cp not in WHITE_SPACE:
            hf_punct = len(bert_split.pre_tokenize_str("a" + c + "a")) == 3
            if hf_punct != utf8proc_is_punct(cp):
                (punct_on if hf_punct else punct_off).append(cp)

        # BERT normaliser: dropped characters, then the uncased form.
        if cp in WHITE_SPACE or cp == 0xFFFD:
            continue
        hf_dropped = plain.normalize_str(c) == ""
        if hf_dropped != utf8proc_is_control(cp):
            (drop if hf_dropped else keep).append(cp)
        if not hf_dropped:
            hf_uncased = [ord(x) for x in uncased.normalize_str(c)]
            if hf_uncased != utf8proc_uncased(cp):
                uncased_map.append((cp, hf_uncased))

    with open(OUT, "w") as fp:
        fp.write("/* Generated by tools/gen_tokenizer_unicode.py from tokenizers (Hugging Face)\n"
                 " * and utf8proc %s: the code points where the two disagree, with\n"
                 " * Hugging Face's classification.  Do not edit. */\n" % lib.utf8proc_version().decode())
        fp.write("#ifndef MAAS_TOK_UNICODE_OVERRIDES_H\n#define MAAS_TOK_UNICODE_OVERRIDES_H\n\n")
        fp.write("#include <stdint.h>\n\ntypedef struct tok_range { int32_t first, last; } tok_range;\n\n")

        def table(name, cps, comment):
            rs = ranges(cps)
            fp.write("/* %s */\nstatic const tok_range %s[] = {\n" % (comment, name))
            for i in range(0, len(rs), 4):
                fp.write("    " + " ".join("{0x%x, 0x%x}," % (a, b) for a, b in rs[i:i + 4]) + "\n")
            if not rs:
                fp.write("    {-1, -1},\n")
            fp.write("};\n\n")

        table("tok_gpt2_letter_ranges", gpt2["L"], "GPT-2 pattern: letters (\\p{L}).")
        table("tok_gpt2_number_ranges", gpt2["N"], "GPT-2 pattern: numbers (\\p{N}).")
        table("tok_gpt2_other_ranges", gpt2["O"], "GPT-2 pattern: neither letter, number nor space.")
        table("tok_bert_punct_ranges", punct_on, "BERT: punctuation.")
        table("tok_bert_not_punct_ranges", punct_off, "BERT: not punctuation.")
        table("tok_bert_dropped_ranges", drop, "BERT clean-up: dropped as control characters.")
        table("tok_bert_kept_ranges", keep, "BERT clean-up: kept (not control characters).")
        fp.write("/* BERT uncased form (NFD, nonspacing marks removed, lowercase) of single\n"
                 " * code points; up to 3 code points, 0-terminated. */\n"
                 "static const struct { int32_t cp; int32_t to[4]; } tok_bert_uncased_map[] = {\n")
        for cp, to in uncased_map:
            assert len(to) <= 3, (hex(cp), to)
            fp.write("    {0x%x, {%s}},\n" % (cp, ", ".join("0x%x" % t for t in to + [0])))
        if not uncased_map:
            fp.write("    {-1, {0}},\n")
        fp.write("};\n\n#endif /* MAAS_TOK_UNICODE_OVERRIDES_H */\n")
    print("wrote %s: %d GPT-2, %d punctuation, %d clean-up, %d uncased overrides" % (
        OUT, sum(len(v) for v in gpt2.values()), len(punct_on) + len(punct_off), len(keep) + len(drop),
        len(uncased_map)))


if __name__ == "__main__":
    main()
