"""Built-in models through the bindings: quadratics with given spectra, the mlp against a
numpy transcription of docs/models.md, batches and their error paths. A kind missing
from the loaded library must raise Unsupported (then these tests xfail with that reason)."""
import numpy as np
import pytest

import hessblock as hb


def _kind_or_xfail(ctx, kind, **opts):
    try:
        return hb.Model(ctx, kind, **opts)
    except hb.Unsupported as e:
        assert e.status == hb.Status.EUNSUPPORTED
        pytest.xfail("built-in model %s not in this library: Unsupported checked instead" % kind)


def test_quadratic_given_spectra(ctx, rng):
    eig = [np.array([3.0, 1.0, 2.0]), None]
    S = rng.normal(size=(4, 4))
    dense = [None, S + S.T]
    h = rng.normal(size=7)
    try:
        m = hb.Model.quadratic(ctx, eigenvalues=eig, dense=dense, h=h)
    except hb.Unsupported:
        pytest.xfail("hb_model_create_quadratic not in this library")
    assert m.kind is None or m.kind == hb.ModelKind.QUADRATIC
    assert m.params.names() == ["block.0", "block.1"] and not m.params.data.any()
    np.testing.assert_array_equal(m.quadratic_eigenvalues("block.0"), [1.0, 2.0, 3.0])
    np.testing.assert_allclose(m.quadratic_matrix(1), S + S.T, rtol=0, atol=1e-15)
    # H·v is the matrix itself: eigenvalues of the sub-block recovered to rounding
    np.testing.assert_allclose(np.linalg.eigvalsh(m.hessian("block.0")), [1, 2, 3], atol=1e-12)
    np.testing.assert_allclose(m.hessian("block.1"), S + S.T, atol=1e-12)
    loss, g = m.loss_grad()
    assert loss == 0.0
    np.testing.assert_allclose(g, -h, rtol=0, atol=0)          # ∇L(0) = −h exactly
    with pytest.raises(hb.Unsupported):
        m.set_batch(np.zeros((1, 2)), np.zeros(1, dtype=np.int32))
    with pytest.raises(hb.Unsupported):
        m.accuracy()


def test_quadratic_errors(ctx, rng):
    try:
        hb.Model.quadratic(ctx, eigenvalues=[[1.0]])
    except hb.Unsupported:
        pytest.xfail("hb_model_create_quadratic not in this library")
    with pytest.raises(hb.InvalidArgument):                    # both sources for block 0
        hb.Model.quadratic(ctx, eigenvalues=[[1.0, 2.0]], dense=[np.eye(2)])
    with pytest.raises(hb.InvalidArgument):                    # neither
        hb.Model.quadratic(ctx, eigenvalues=[None], dense=[None])
    with pytest.raises(hb.InvalidArgument):                    # not symmetric
        hb.Model.quadratic(ctx, dense=[np.triu(np.ones((3, 3)))])
    with pytest.raises(hb.NonFinite):
        hb.Model.quadratic(ctx, eigenvalues=[[1.0, np.inf]])
    with pytest.raises(hb.ShapeError):
        hb.Model.quadratic(ctx, eigenvalues=[[1.0]], h=np.zeros(3))
    with pytest.raises(hb.InvalidArgument):
        hb.Model.quadratic(ctx)
    cb = hb.Model.from_callbacks(ctx, [("x", (2,))], lambda t: (0.0, t))
    with pytest.raises(hb.Unsupported):
        cb.quadratic_eigenvalues(0)


def test_generated_quadratic_family(ctx):
    m = _kind_or_xfail(ctx, "quadratic", quad_blocks=3, quad_block_size=5, quad_cond=1000.0)
    assert m.params.num_blocks == 3 and m.n == 15
    # heterogeneous family: block b spans [κ^(b/B), κ^((b+1)/B)] (docs/models.md)
    for b in range(3):
        e = m.quadratic_eigenvalues(b)
        assert e[0] == pytest.approx(1000.0 ** (b / 3)) and e[-1] == pytest.approx(1000.0 ** ((b + 1) / 3))
        np.testing.assert_allclose(np.linalg.eigvalsh(m.hessian(b)), e, rtol=1e-10)


def _mlp_numpy(m, X, y):
    """docs/models.md's mlp (1 hidden ReLU layer), from the zero-copy block views."""
    p = m.params
    z = X @ p["layers.0.weight"].T + p["layers.0.bias"]
    logits = np.maximum(z, 0) @ p["head.weight"].T + p["head.bias"]
    logits = logits - logits.max(1, keepdims=True)
    logp = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    return -logp[np.arange(len(y)), y].mean(), (logits.argmax(1) == y).mean()


def test_mlp_batches_against_numpy(ctx, rng):
    m = _kind_or_xfail(ctx, "mlp", inputs=4, width=6, layers=1, classes=3, batch=8)
    assert m.params.names() == ["layers.0.weight", "layers.0.bias", "head.weight", "head.bias"]
    assert m.num_batches == 1 and m.num_samples == 8          # one synthetic batch at creation
    X1, y1 = rng.normal(size=(5, 4)), rng.integers(0, 3, size=5).astype(np.int32)
    X2, y2 = rng.normal(size=(3, 4)).astype(np.float32), rng.integers(0, 3, size=3).astype(np.int32)
    m.set_batch(X1, y1)
    ref1, acc1 = _mlp_numpy(m, X1, y1)
    assert m.loss() == pytest.approx(ref1, rel=1e-12)        # f64 model, same math
    assert m.accuracy() == pytest.approx(acc1)
    m.add_batch(X2, y2)
    assert (m.num_batches, m.num_samples) == (2, 8)
    ref2, _ = _mlp_numpy(m, X2.astype(np.float64), y2)
    # L is the sample-weighted mean over micro-batches
    assert m.loss() == pytest.approx((5 * ref1 + 3 * ref2) / 8, rel=1e-12)
    # the batch was copied: changing the caller's arrays changes nothing
    X1[:] = 0
    assert m.loss() == pytest.approx((5 * ref1 + 3 * ref2) / 8, rel=1e-12)
    m.set_synthetic(3, stream=0, first=100)
    assert (m.num_batches, m.num_samples) == (3, 24)
    # per-block HVP equals the block of the full HVP
    v = rng.normal(size=m.n)
    full = m.hvp(v)
    b = m.params.block_info("head.weight")
    vb = np.zeros(m.n)
    vb[b.offset:b.offset + b.numel] = v[b.offset:b.offset + b.numel]
    np.testing.assert_allclose(m.block_hvp("head.weight", v[b.offset:b.offset + b.numel].copy()),
                               m.hvp(vb)[b.offset:b.offset + b.numel], rtol=1e-10, atol=1e-12)
    assert full.shape == (m.n,)


def test_mlp_batch_errors(ctx, rng):
    m = _kind_or_xfail(ctx, "mlp", inputs=4, width=6, layers=1, classes=3, batch=8)
    X, y = rng.normal(size=(5, 4)), np.zeros(5, dtype=np.int32)
    with pytest.raises(hb.ShapeError):
        m.set_batch(rng.normal(size=(5, 3)), y)
    with pytest.raises(hb.ShapeError):
        m.set_batch(X, np.zeros(4, dtype=np.int32))
    bad = y.copy()
    bad[2] = 3
    with pytest.raises(hb.RangeError):
        m.set_batch(X, bad)
    Xn = X.copy()
    Xn[1, 1] = np.nan
    with pytest.raises(hb.NonFinite):
        m.set_batch(Xn, y)
    with pytest.raises(hb.DtypeError):
        m.set_batch(X, y.astype(np.int64))                     # refused, never copied
    with pytest.raises(hb.InvalidArgument):
        m.set_batch(np.asfortranarray(rng.normal(size=(5, 4))), y)
    with pytest.raises(hb.InvalidArgument):
        m.set_synthetic(0)
    assert m.num_batches == 1 and m.num_samples == 8          # nothing changed on failure


def test_set_data_parallel(ctx):
    # without a communicator the flag changes nothing (docs/scale-out.md); models without
    # data have nothing to shard
    m = _kind_or_xfail(ctx, "mlp", inputs=4, width=6, layers=1, classes=3, batch=8)
    before = m.loss()
    m.set_data_parallel(True)
    assert m.loss() == before
    m.set_data_parallel(False)
    q = _kind_or_xfail(ctx, "quadratic")
    with pytest.raises(hb.Unsupported):
        q.set_data_parallel(True)


def test_f32_model(ctx, rng):
    m = _kind_or_xfail(ctx, "mlp", inputs=3, width=4, layers=1, classes=2, batch=4, dtype="f32")
    assert m.params.dtype == hb.DType.F32 and m.params.data.dtype == np.float32
    v = rng.normal(size=m.n).astype(np.float32)
    r32, r64 = m.hvp(v), m.hvp(v.astype(np.float64))
    assert r32.dtype == np.float32 and r64.dtype == np.float64
    np.testing.assert_allclose(r32, r64, rtol=1e-6, atol=1e-7)   # f32 output rounding


def test_cnn_batches(ctx, rng):
    m = _kind_or_xfail(ctx, "cnn", image_size=4, channels=1, conv_width=2, conv_stages=1,
                       classes=2, batch=3)
    X = rng.normal(size=(2, 1, 4, 4))
    y = np.array([0, 1], dtype=np.int32)
    m.set_batch(X, y)
    assert m.num_samples == 2 and np.isfinite(m.loss()) and 0 <= m.accuracy() <= 1
    with pytest.raises(hb.ShapeError):
        m.set_batch(rng.normal(size=(2, 1, 5, 5)), y)


def test_gpt_text_data(ctx, tmp_path):
    m = _kind_or_xfail(ctx, "gpt", vocab=128, context=8, width=16, heads=2, layers=1, batch=2)
    assert m.params.block_info(0).kind == hb.BlockKind.EMBEDDING
    text = tmp_path / "t.txt"
    text.write_bytes(b"the quick brown fox jumps over the lazy dog. " * 4)
    m.set_text(text, n_batches=3)
    assert (m.num_batches, m.num_samples) == (3, 6)
    assert np.isfinite(m.loss()) and 0 <= m.accuracy() <= 1
    with pytest.raises(hb.FileIOError) as ei:
        m.set_text(tmp_path / "missing.txt")
    assert "missing.txt" in ei.value.message
    short = tmp_path / "short.txt"
    short.write_bytes(b"abc")
    with pytest.raises(hb.FormatError):
        m.set_text(short)
    high = tmp_path / "high.txt"
    high.write_bytes(bytes([200]) * 40)
    with pytest.raises(hb.RangeError):
        m.set_text(high)
    assert m.num_batches == 3                                  # nothing changed on failure
    X = np.zeros((2, 8), dtype=np.int32)
    m.set_batch(X, X)
    bad = X.copy()
    bad[0, 0] = 128
    with pytest.raises(hb.RangeError):
        m.set_batch(bad, X)
    try:
        mlp = hb.Model(ctx, "mlp", inputs=2, width=2, layers=1, classes=2)
    except hb.Unsupported:
        return
    with pytest.raises(hb.Unsupported):
        mlp.set_text(text)


def test_gpt_text_corpus(ctx, tmp_path):
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_bytes(b"abcabcabcabcabcabcab")          # 20 bytes: the last 2 validate
    b.write_bytes(b"zyx\nzyx\nzyx\nzy")              # 14 bytes: the last 1 validates
    c = hb.TextCorpus(ctx, [a, b])
    assert c.vocab_size == 7 and c.vocabulary == b"\nabcxyz"
    assert c.byte_token(ord("z")) == 6 and c.token_byte(0) == 10 and c.byte_token(ord("q")) == -1
    assert (c.num_tokens("train"), c.num_tokens(hb.TextSplit.VALID)) == (31, 3)
    assert list(c.tokens("valid")) == [1, 2, 5]       # "ab" + "y"
    same = hb.TextCorpus.from_buffers(ctx, [a.read_bytes(), b.read_bytes()])
    assert np.array_equal(same.tokens("train"), c.tokens("train"))
    m = _kind_or_xfail(ctx, "gpt", vocab=7, context=4, width=8, heads=2, layers=1, batch=3)
    m.set_corpus(c, "train", n_batches=2, first=5)
    x, y = m.batch(0)
    tr = c.tokens("train")
    o = (5 * 4) % (31 - 4)
    assert list(x[0]) == list(tr[o:o + 4]) and list(y[0]) == list(tr[o + 1:o + 5])
    assert np.isfinite(m.loss())
    with pytest.raises(hb.FormatError):               # 3 validation tokens < context + 1
        m.set_corpus(c, "valid")
    small = _kind_or_xfail(ctx, "gpt", vocab=6, context=4, width=8, heads=2, layers=1)
    with pytest.raises(hb.RangeError):
        small.set_corpus(c)
    (tmp_path / "empty").write_bytes(b"")
    with pytest.raises(hb.FormatError):
        hb.TextCorpus(ctx, [a, tmp_path / "empty"])
    with pytest.raises(hb.FileIOError):
        hb.TextCorpus(ctx, [tmp_path / "missing"])
