#!/usr/bin/env python3
"""Train the digit classifier fixture and write its golden values.

The data set is the 8x8 handwritten digits that ship inside scikit-learn
(sklearn.datasets.load_digits, 1797 images, pixel values 0..16; `pip install
scikit-learn`, version 1.9.1 wrote the committed files).  The model is
a small nn.Sequential CNN (conv2d -> ReLU -> max-pool twice, then two linear
layers).  Seeds are fixed, so a rerun on the same torch and scikit-learn
versions writes the same files.  Training takes well under a minute on two
CPU cores.

Writes (see the "CNN and RNN models" section of docs/FORMAT.md):
  tests/fixtures/digits-cnn/model.safetensors   the state_dict
  tests/fixtures/digits-cnn/model.json          the layer description
  tests/fixtures/digits-cnn/heldout.txt         the held-out split, one image a line
  tests/fixtures/golden/digits-cnn/layer_NN.bin every layer's output for the
                                                first GOLDEN_IMAGES held-out images
  tests/fixtures/golden/digits-cnn/input.bin    those images as the model sees them
  tests/fixtures/golden/digits-cnn/predictions.txt  PyTorch's class for every held-out image
  tests/fixtures/golden/digits-cnn/summary.json accuracy, counts and layer shapes

Usage: /work/venv/bin/python tools/train_digits.py [--out-dir tests/fixtures]
"""

import argparse
import json
import os

import numpy as np
import torch
from safetensors.torch import save_file
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn

SEED = 1234
EPOCHS = 60
BATCH = 32
GOLDEN_IMAGES = 4
# Label smoothing keeps the logits small (below about 10), so that float
# rounding differences between libraries stay well under the tests' 1e-5.
LABEL_SMOOTHING = 0.1
# load_digits stores pixels as integers 0..16; the model sees pixel / 16.
INPUT_SCALE = 1.0 / 16.0


def build_model():
    """Return the classifier: two conv2d -> ReLU -> max-pool blocks, then an MLP."""
    return nn.Sequential(
        nn.Conv2d(1, 16, kernel_size=3, padding=1),   # 0: [16, 8, 8]
        nn.ReLU(),                                    # 1
        nn.MaxPool2d(2),                              # 2: [16, 4, 4]
        nn.Conv2d(16, 32, kernel_size=3, padding=1),  # 3: [32, 4, 4]
        nn.ReLU(),                                    # 4
        nn.MaxPool2d(2),                              # 5: [32, 2, 2]
        nn.Flatten(),                                 # 6: [128]
        nn.Linear(128, 64),                           # 7
        nn.ReLU(),                                    # 8
        nn.Linear(64, 10),                            # 9: logits
    )


def pair(v):
    return list(v) if isinstance(v, (tuple, list)) else [v, v]


def describe(model, in_shape):
    """Return the JSON layer description of an nn.Sequential model."""
    layers = []
    for name, layer in model.named_children():
        if isinstance(layer, nn.Conv2d):
            if layer.padding_mode != "zeros" or isinstance(layer.padding, str):
                raise SystemExit(f"layer {name}: only numeric zero padding is supported")
            layers.append({
                "type": "conv2d", "name": name,
                "in_channels": layer.in_channels, "out_channels": layer.out_channels,
                "kernel_size": pair(layer.kernel_size), "stride": pair(layer.stride),
                "padding": pair(layer.padding), "dilation": pair(layer.dilation),
                "groups": layer.groups, "bias": layer.bias is not None,
            })
        elif isinstance(layer, nn.MaxPool2d):
            for field in ("kernel_size", "stride", "padding"):
                if isinstance(getattr(layer, field), (tuple, list)):
                    raise SystemExit(f"layer {name}: {field} must be one integer")
            if layer.dilation != 1 or layer.ceil_mode:
                raise SystemExit(f"layer {name}: dilation and ceil_mode are not supported")
            layers.append({
                "type": "maxpool2d", "name": name, "kernel_size": layer.kernel_size,
                "stride": layer.stride, "padding": layer.padding,
            })
        elif isinstance(layer, nn.ReLU):
            layers.append({"type": "relu", "name": name})
        elif isinstance(layer, nn.Flatten):
            layers.append({"type": "flatten", "name": name})
        elif isinstance(layer, nn.Linear):
            layers.append({
                "type": "linear", "name": name, "in_features": layer.in_features,
                "out_features": layer.out_features, "bias": layer.bias is not None,
            })
        else:
            raise SystemExit(f"layer {name}: {type(layer).__name__} has no maas equivalent")
    return {
        "model_type": "cnn",
        "input_shape": list(in_shape),
        "input_scale": INPUT_SCALE,
        "labels": [str(d) for d in range(10)],
        "layers": layers,
    }


def write_images(path, images, labels):
    """Write images in the plain digits format: a label, then 64 pixels 0..16."""
    with open(path, "w") as f:
        f.write("# 8x8 handwritten digits (scikit-learn load_digits), held-out split.\n")
        f.write("# One image a line: the label 0..9, then 64 pixel values 0..16 in row-major order.\n")
        for img, lab in zip(images, labels):
            f.write(" ".join([str(int(lab))] + [str(int(v)) for v in img.reshape(-1)]) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out-dir", default="tests/fixtures", help="fixtures folder")
    args = ap.parse_args()

    torch.manual_seed(SEED)
    np.random.seed(SEED)
    torch.set_num_threads(2)

    # Step 1: the data, split 80/20 with a fixed seed, stratified by class.
    digits = load_digits()
    x_train, x_test, y_train, y_test = train_test_split(
        digits.images, digits.target, test_size=0.2, random_state=0, stratify=digits.target)
    to_input = lambda a: torch.tensor(a, dtype=torch.float32).unsqueeze(1) * INPUT_SCALE
    xt, yt = to_input(x_train), torch.tensor(y_train, dtype=torch.long)
    xv, yv = to_input(x_test), torch.tensor(y_test, dtype=torch.long)

    # Step 2: train with Adam on mini-batches.
    model = build_model()
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    gen = torch.Generator().manual_seed(SEED)
    for epoch in range(EPOCHS):
        model.train()
        perm = torch.randperm(len(xt), generator=gen)
        for i in range(0, len(xt), BATCH):
            idx = perm[i:i + BATCH]
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(xt[idx]), yt[idx],
                                               label_smoothing=LABEL_SMOOTHING)
            loss.backward()
            opt.step()
        if epoch % 10 == 9:
            with torch.no_grad():
                acc = (model(xv).argmax(1) == yv).float().mean().item()
            print(f"epoch {epoch + 1}: loss {loss.item():.4f}, held-out accuracy {acc:.4f}")
    model.eval()

    # Step 3: the model files.
    model_dir = os.path.join(args.out_dir, "digits-cnn")
    golden_dir = os.path.join(args.out_dir, "golden", "digits-cnn")
    os.makedirs(model_dir, exist_ok=True)
    os.makedirs(golden_dir, exist_ok=True)
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    save_file(state, os.path.join(model_dir, "model.safetensors"))
    desc = describe(model, (1, 8, 8))
    with open(os.path.join(model_dir, "model.json"), "w") as f:
        json.dump(desc, f, indent=2)
        f.write("\n")
    write_images(os.path.join(model_dir, "heldout.txt"), x_test, y_test)

    # Step 4: golden values.  Every layer's output for the first images, then
    # PyTorch's prediction for every held-out image.
    with torch.no_grad():
        h = xv[:GOLDEN_IMAGES]
        h.numpy().astype("<f4").tofile(os.path.join(golden_dir, "input.bin"))
        shapes = []
        for i, layer in enumerate(model):
            h = layer(h)
            h.numpy().astype("<f4").tofile(os.path.join(golden_dir, f"layer_{i:02d}.bin"))
            shapes.append(list(h.shape[1:]))
        logits = model(xv)
    pred = logits.argmax(1)
    top2 = logits.topk(2, dim=1).values
    margin = (top2[:, 0] - top2[:, 1]).min().item()
    correct = int((pred == yv).sum().item())
    with open(os.path.join(golden_dir, "predictions.txt"), "w") as f:
        f.write("".join(f"{int(p)}\n" for p in pred))
    summary = {
        "images": len(yv), "correct": correct, "accuracy": correct / len(yv),
        "golden_images": GOLDEN_IMAGES, "layer_shapes": shapes,
        "min_top2_logit_margin": margin,
        "torch": torch.__version__, "seed": SEED,
    }
    with open(os.path.join(golden_dir, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2)
        f.write("\n")
    print(f"held-out accuracy {correct}/{len(yv)} = {correct / len(yv):.4f}; "
          f"smallest top-2 logit margin {margin:.4g}")


if __name__ == "__main__":
    main()
