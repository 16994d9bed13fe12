#!/usr/bin/env python3
"""Derive stack/data/diabetes.csv from the raw diabetes files shipped with scikit-learn.

The result is byte-for-byte what `sklearn.datasets.load_diabetes()` returns (scaled=True):
each feature column is mean-centred, divided by its population standard deviation
(ddof=0) and then by sqrt(n_samples), so every column has unit L2 norm. The target is
left as is.

Usage (from the repo root, with Debian's python3-sklearn installed):

    /usr/bin/python3 ops/data/derive_diabetes.py            # writes stack/data/diabetes.csv
    /usr/bin/python3 ops/data/derive_diabetes.py --check    # exits 1 if the file differs

Only numpy is needed to derive; when scikit-learn is importable the result is also
compared bit for bit with `load_diabetes()` so a drift in the recipe cannot go unnoticed.
"""

import gzip
import io
import os
import sys

import numpy as np

RAW_DIR = "/usr/lib/python3/dist-packages/sklearn/datasets/data"
DATA_RAW = os.path.join(RAW_DIR, "diabetes_data_raw.csv.gz")
TARGET_RAW = os.path.join(RAW_DIR, "diabetes_target.csv.gz")
OUT_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "diabetes.csv")
FEATURE_NAMES = ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]


def load_raw(path):
    with gzip.open(path, mode="rt", encoding="utf-8") as f:
        return np.loadtxt(f)


def scale_like_sklearn(raw):
    # Same operation order as sklearn.preprocessing.scale followed by load_diabetes's
    # division by sqrt(n): a different order (e.g. dividing by std*sqrt(n) at once)
    # changes the last bits of some values.
    # Both statistics come from the raw values, before centring, as sklearn computes them.
    mean = np.nanmean(raw, axis=0)
    std = np.nanstd(raw, axis=0)
    x = raw - mean
    x /= std
    x /= x.shape[0] ** 0.5
    return x


def derive():
    data = scale_like_sklearn(load_raw(DATA_RAW))
    target = load_raw(TARGET_RAW)
    assert data.shape == (442, 10), data.shape
    assert target.shape == (442,), target.shape
    assert np.allclose(data.mean(axis=0), 0, atol=1e-12)
    assert np.allclose(np.linalg.norm(data, axis=0), 1, atol=1e-12)
    assert target[102] == 302.0, target[102]
    try:
        from sklearn.datasets import load_diabetes
    except ImportError:
        print("scikit-learn not importable: skipped the bit-for-bit comparison", file=sys.stderr)
    else:
        ref = load_diabetes()
        assert np.array_equal(ref.data, data), "derived features differ from load_diabetes()"
        assert np.array_equal(ref.target, target), "derived target differs from load_diabetes()"
        assert list(ref.feature_names) == FEATURE_NAMES, ref.feature_names
    return data, target


def to_csv(data, target):
    out = io.StringIO()
    out.write(",".join(FEATURE_NAMES + ["target"]) + "\n")
    for row, y in zip(data, target):
        # repr of a Python float is the shortest string that round-trips to the same float64.
        out.write(",".join(repr(float(v)) for v in list(row) + [y]) + "\n")
    return out.getvalue()


def main(argv):
    text = to_csv(*derive())
    if "--check" in argv:
        with open(OUT_PATH, encoding="utf-8") as f:
            if f.read() != text:
                print(f"{OUT_PATH} differs from a fresh derivation", file=sys.stderr)
                return 1
        print(f"{OUT_PATH} is up to date")
        return 0
    with open(OUT_PATH, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    print(f"wrote {OUT_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
