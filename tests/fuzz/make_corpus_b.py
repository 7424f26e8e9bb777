#!/usr/bin/python3
"""Seeds for the fuzz targets of tests/fuzz/targets_b.cmake (run from
anywhere; writes tests/fuzz/corpus/resultlog/). The records fit the schema
fuzz_resultlog.c sets up: 6 inputs, 3 classes, original predictions
0 1 2 0 1 2, labels 0 1 1 0 2 2 (4 of 6 right). The note seeds
(corpus/note/) are real notes written by `mutorch ci`."""
import json
import os
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus", "resultlog")
KEY = "0123456789abcdef0123456789abcdef01234567"


def frame(rec):
    text = json.dumps(rec, separators=(",", ":"))
    data = text.encode()
    return b"%d %08x " % (len(data), zlib.crc32(data)) + data + b"\n"


def write(name, data):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)


MODEL = [
    {"status": "Evaluated", "accuracy": 5 / 6, "diff": [[2, 1]], "seconds": 0.01, "id": "GF-fc1-000"},
    {"status": "Evaluated", "accuracy": 4 / 6, "diff": [[0, 1], [4, 2]], "seconds": 0.02, "id": "GF-fc1-001"},
    {"status": "Ignored", "reason": "NEB: fc3 is the last layer", "seconds": 0.0, "id": "LD-relu@3"},
    {"status": "RuntimeError", "reason": "worker killed by signal 11 (Segmentation fault)", "id": "NAI-all-000"},
]
SOURCE = [
    {"status": "Trained", "key": KEY, "accuracy": 0.75, "diverged": False, "reused_model": False,
     "seconds": 1.5, "slot": 0, "run": 0, "id": "original"},
    {"status": "Trained", "key": KEY, "accuracy": 0.5, "diverged": True, "reused_model": True,
     "seconds": 2.0, "slot": 1, "run": 3, "id": "LE-ratio=0.3-000"},
    {"status": "Timeout", "reason": "passed the time limit of 3.0 s", "slot": 2, "run": 0, "id": "HBS-000"},
]


def main():
    os.makedirs(OUT, exist_ok=True)
    header = b"mutorch-results 2\n"
    write("model.log", header + b"".join(frame(r) for r in MODEL))
    write("source.log", header + b"".join(frame(r) for r in SOURCE))
    write("format1.log", b"".join(json.dumps(r).encode() + b"\n" for r in MODEL))
    # a repeated id, a cut-short last line, a bad checksum
    lines = [frame(r) for r in MODEL]
    bad = bytearray(lines[1])
    bad[-5] ^= 1
    write("damaged.log", header + lines[0] + bytes(bad) + lines[0] + lines[2] + lines[3][:20])
    write("empty.log", b"")
    write("future.log", b"mutorch-results 3\n" + lines[0])


if __name__ == "__main__":
    main()
