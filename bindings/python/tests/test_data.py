"""Real data bindings (docs/data.md): idx_read, images_stats, Model.set_images."""
import gzip
import os
import struct

import numpy as np
import pytest

import hessblock as hb


def _idx(code, dims, payload):
    return bytes([0, 0, code, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + payload


def test_idx_read_raw_and_gzip(ctx, tmp_path):
    pix = np.arange(24, dtype=np.uint8).reshape(2, 3, 4) * 10
    raw = _idx(0x08, pix.shape, pix.tobytes())
    (tmp_path / "a.idx").write_bytes(raw)
    (tmp_path / "a.idx.gz").write_bytes(gzip.compress(raw))
    for name in ("a.idx", "a.idx.gz"):
        t = hb.idx_read(ctx, tmp_path / name)
        assert t.dtype == hb.DType.I32 and t.shape == (2, 3, 4)
        np.testing.assert_array_equal(t.numpy(), pix.astype(np.int32))
    f = _idx(0x0D, (2,), struct.pack(">ff", 1.5, -2.0))
    (tmp_path / "f.idx").write_bytes(f)
    np.testing.assert_array_equal(hb.idx_read(ctx, tmp_path / "f.idx").numpy(), [1.5, -2.0])
    (tmp_path / "cut.idx").write_bytes(raw[:-1])
    with pytest.raises(hb.FormatError) as ei:
        hb.idx_read(ctx, tmp_path / "cut.idx")
    assert "cut.idx" in ei.value.message
    with pytest.raises(hb.FileIOError):
        hb.idx_read(ctx, tmp_path / "missing.idx")
    (tmp_path / "huge.idx").write_bytes(_idx(0x08, (1 << 31, 1 << 31), b""))
    with pytest.raises(hb.SizeOverflowError):
        hb.idx_read(ctx, tmp_path / "huge.idx")


def test_set_images(ctx):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(5, 3, 4)).astype(np.int32)
    y = (np.arange(5) % 3).astype(np.int32)
    m = hb.Model(ctx, "mlp", inputs=12, width=6, classes=3, batch=4)
    m.set_images(x, y, n_batches=2, first=3)
    mean, std = hb.images_stats(ctx, x)
    assert mean == pytest.approx((x / 255.0).mean(), rel=1e-12)
    assert std == pytest.approx((x / 255.0).std(), rel=1e-12)
    inputs, targets = m.batch(1)
    img = (np.arange(4) + 7) % 5
    np.testing.assert_allclose(inputs, ((x[img] / 255.0 - mean) / std).reshape(4, 12), rtol=1e-12)
    np.testing.assert_array_equal(targets, y[img])
    m.set_images(x, y, mean=0.5, std=0.25)
    np.testing.assert_allclose(m.batch(0)[0][0], (x[0].ravel() / 255.0 - 0.5) / 0.25, rtol=1e-12)
    with pytest.raises(hb.ShapeError):
        m.set_images(np.zeros((5, 4, 4), np.int32), y)
    with pytest.raises(hb.RangeError):
        m.set_images(x, np.full(5, 3, np.int32))
    assert m.num_batches == 1                                  # nothing changed on failure
    cnn = hb.Model(ctx, "cnn", image_size=4, channels=1, conv_width=2, conv_stages=1, classes=3, batch=2)
    cnn.set_images(np.zeros((5, 4, 4), np.int32) + 7, y)      # constant images: centred only
    assert cnn.batch(0)[0].shape == (2, 1, 4, 4) and np.abs(cnn.batch(0)[0]).max() < 1e-12
    assert np.isfinite(cnn.loss())


@pytest.mark.skipif(not os.path.exists(os.path.join(hb.FASHION_MNIST_DIR, "t10k-labels-idx1-ubyte.gz")),
                    reason="dataset-fashion-mnist not installed")
def test_fashion_mnist_labels(ctx):
    t = hb.idx_read(ctx, os.path.join(hb.FASHION_MNIST_DIR, "t10k-labels-idx1-ubyte.gz"))
    assert t.shape == (10000,) and np.bincount(t.numpy()).tolist() == [1000] * 10
