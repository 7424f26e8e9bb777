#!/usr/bin/python3
"""Seed corpora of the fuzz targets (tests/fuzz/corpus/<target>/), small real
files: Fashion-MNIST slices (IDX, gzip and plain; .npy; a CIFAR-10-shaped
batch of its pixels), tiny torch.save dicts, the example configs, a
TorchScript fixture. Run with /usr/bin/python3 from anywhere; the kill
matrix seed is made by `mutorch run` (see README.md in this folder).

The two-file targets (idx, npy) take a 4-byte little-endian length k, then
k bytes of the first file, then the second (fuzz_split.h).
"""
import gzip
import io
import os
import shutil
import struct

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
FASHION = "/usr/share/datasets/fashion-mnist"


def out(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def pair(a, b):
    return struct.pack("<I", len(a)) + a + b


def fashion(n):
    with gzip.open(os.path.join(FASHION, "t10k-images-idx3-ubyte.gz")) as f:
        images = f.read(16 + n * 784)
    with gzip.open(os.path.join(FASHION, "t10k-labels-idx1-ubyte.gz")) as f:
        labels = f.read(8 + n)
    images = images[:4] + struct.pack(">I", n) + images[8:]
    labels = labels[:4] + struct.pack(">I", n) + labels[8:]
    return images, labels


def gz(data):
    return gzip.compress(data, 9, mtime=0)


def npy(a):
    buf = io.BytesIO()
    np.save(buf, a)
    return buf.getvalue()


def main():
    images, labels = fashion(3)
    out("idx", "plain", pair(images, labels))
    out("idx", "gzip", pair(gz(images), gz(labels)))
    out("idx", "mixed", pair(gz(images), labels))
    px = np.frombuffer(images[16:], dtype=np.uint8).reshape(3, 28, 28)
    fl = (px[:, :4, :4].astype(">f4") / 255)
    out("idx", "float32", pair(b"\0\0\x0d\x03" + struct.pack(">III", 3, 4, 4) + fl.tobytes(),
                               labels))

    y = np.frombuffer(labels[8:], dtype=np.uint8)
    out("npy", "u1", pair(npy(px), npy(y)))
    out("npy", "f4_i8", pair(npy(px[:, :4, :4].astype("<f4") / 255), npy(y.astype("<i8"))))
    out("npy", "f8_2d_gzip", pair(gz(npy(px[:, :2, :3].reshape(3, 6).astype("<f8"))),
                                  gz(npy(y.astype("<i4")))))

    # CIFAR-10 layout: label byte + 3 x 32 x 32, here from Fashion pixels
    rec = b""
    for i in range(2):
        img = np.zeros((3, 32, 32), dtype=np.uint8)
        img[:, 2:30, 2:30] = px[i]
        rec += bytes([int(y[i])]) + img.tobytes()
    out("cifar", "two_records", rec)

    torch.manual_seed(0)
    for name, obj in [
        ("uint8", {"x": torch.from_numpy(px.copy()).reshape(3, 1, 28, 28)[:, :, :6, :6].contiguous(),
                   "y": torch.from_numpy(y.astype(np.int64))}),
        ("float2d", {"x": torch.rand(3, 5), "y": torch.tensor([0, 1, 2])}),
        ("int32_labels", {"x": torch.rand(2, 2, 2), "y": torch.tensor([1, 0], dtype=torch.int32)}),
    ]:
        buf = io.BytesIO()
        torch.save(obj, buf)
        out("torchdict", name, buf.getvalue())
        out("zip", "dict_" + name, buf.getvalue())
    shutil.copy(os.path.join(ROOT, "tests", "fixtures", "shim_model.pt"),
                os.path.join(HERE, "corpus", "zip", "model_shim"))

    for src in ["examples/fashion-mnist/mutorch.yml", "examples/fashion-mnist/source-quick.yml",
                "examples/fashion-mnist/source-full.yml", "tests/fixtures/lenet5_pytorch.yml"]:
        with open(os.path.join(ROOT, src), "rb") as f:
            out("config", os.path.basename(os.path.dirname(src)) + "_" + os.path.basename(src),
                f.read())


if __name__ == "__main__":
    main()
