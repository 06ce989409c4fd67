"""Models: Python objectives through callbacks (round trips, exact and finite-difference
HVPs against dense numpy Hessians, exceptions), configs and built-in kinds."""
import numpy as np
import pytest

import hessblock as hb


class Logistic:
    """L(w, b) = mean log(1 + exp(-y (Xw + b))) + ½·lam·|w|², with its exact gradient and
    Hessian in numpy. Blocks: 'w' (d,), 'b' (1,)."""

    def __init__(self, rng, n=40, d=5, lam=0.1):
        self.X = rng.normal(size=(n, d))
        self.y = np.where(rng.normal(size=n) > 0, 1.0, -1.0)
        self.lam, self.d = lam, d
        self.blocks = [("w", (d,), "linear"), ("b", (1,), "bias")]

    def _z(self, th):
        return self.y * (self.X @ th[:-1] + th[-1])

    def loss_grad(self, th):
        z = self._z(th)
        s = 1 / (1 + np.exp(z))                     # σ(-z)
        loss = np.mean(np.logaddexp(0, -z)) + 0.5 * self.lam * th[:-1] @ th[:-1]
        gz = -s * self.y / len(z)
        g = np.concatenate([self.X.T @ gz + self.lam * th[:-1], [gz.sum()]])
        return loss, g

    def hessian(self, th):
        z = self._z(th)
        s = 1 / (1 + np.exp(z))
        A = np.hstack([self.X, np.ones((len(z), 1))])
        H = A.T @ (A * (s * (1 - s))[:, None]) / len(z)
        H[:-1, :-1] += self.lam * np.eye(self.d)
        return H

    def hvp(self, th, v):
        return self.hessian(th) @ v


@pytest.fixture
def logistic(rng):
    return Logistic(rng)


def _model(ctx, obj, exact):
    return hb.Model.from_callbacks(ctx, obj.blocks, obj.loss_grad, obj.hvp if exact else None)


def test_round_trip(ctx, logistic, rng):
    m = _model(ctx, logistic, exact=True)
    assert m.kind is None and m.name == "callbacks" and m.has_exact_hvp and m.n == 6
    assert m.params.names() == ["w", "b"] and m.context is ctx
    theta = rng.normal(size=6)
    m.params.data[:] = theta                  # write through the zero-copy view
    loss, grad = m.loss_grad()
    ref_loss, ref_grad = logistic.loss_grad(theta)
    assert loss == pytest.approx(ref_loss, rel=1e-14)   # same numpy computation, same numbers
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-14, atol=1e-16)
    assert np.shares_memory(grad, m.params.grad)
    assert m.loss() == pytest.approx(ref_loss, rel=1e-14)
    np.testing.assert_allclose(m.params.grad_block("w"), ref_grad[:5], rtol=1e-14)


def test_exact_hvp_against_dense_hessian(ctx, logistic, rng):
    m = _model(ctx, logistic, exact=True)
    theta = rng.normal(size=6)
    m.params.data[:] = theta
    H = logistic.hessian(theta)
    v = rng.normal(size=6)
    # the library only moves the numbers: agreement to rounding of the axpy (1e-13)
    np.testing.assert_allclose(m.hvp(v), H @ v, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(m.hessian(), H, rtol=1e-13, atol=1e-13)
    V = rng.normal(size=(3, 6))
    out = np.zeros((3, 6))
    r = m.hvp_multi(V, out=out)
    assert r is out
    np.testing.assert_allclose(out, V @ H, rtol=1e-13, atol=1e-13)
    # principal sub-blocks, by name and by index, one and several directions
    np.testing.assert_allclose(m.hessian("w"), H[:5, :5], rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(m.block_hvp(1, np.array([2.0])), 2 * H[5:, 5], rtol=1e-13)
    np.testing.assert_allclose(m.block_hvp("w", V[:, :5].copy()), V[:, :5] @ H[:5, :5],
                               rtol=1e-13, atol=1e-13)
    # f32 vectors are converted on the way in and out (f32 rounding: 1e-6 relative)
    v32 = v.astype(np.float32)
    r32 = m.hvp(v32)
    assert r32.dtype == np.float32
    np.testing.assert_allclose(r32, H @ v32.astype(np.float64), rtol=1e-5, atol=1e-6)


def test_fd_fallback_hvp(ctx, logistic, rng):
    m = _model(ctx, logistic, exact=False)
    assert not m.has_exact_hvp
    theta = rng.normal(size=6)
    m.params.data[:] = theta
    H = logistic.hessian(theta)
    # central difference, eps ~ cbrt(eps_f64): error O(eps²)+O(u/eps) ≈ 1e-10 relative to
    # |H|·|v| (model.h); 1e-7 leaves margin for the mild nonlinearity of this objective.
    scale = np.abs(H).max()
    np.testing.assert_allclose(m.hessian(), H, rtol=0, atol=1e-7 * scale)
    hd = m.hessian()
    np.testing.assert_allclose(hd, hd.T, rtol=0, atol=1e-7 * scale)


def test_callback_sees_readonly_theta_views(ctx, rng):
    seen = {}

    def lg(th):
        seen["theta"] = th
        seen["writeable"] = th.flags.writeable
        return 0.5 * float(th @ th), th.copy()

    m = hb.Model.from_callbacks(ctx, [("x", (4,))], lg)
    m.params.data[:] = [1, 2, 3, 4]
    assert m.loss() == 15.0
    assert seen["writeable"] is False
    assert np.shares_memory(seen["theta"], m.params.data)    # zero-copy θ
    # FD fallback on a quadratic: H = I exactly up to rounding (1e-9 from u/eps)
    np.testing.assert_allclose(m.hessian(), np.eye(4), atol=1e-9)


def test_exception_in_callback_propagates(ctx):
    class Mine(Exception):
        pass

    calls = []

    def lg(th):
        calls.append(1)
        raise Mine("in loss_grad")

    m = hb.Model.from_callbacks(ctx, [("x", (3,))], lg)
    for fn in (m.loss, m.loss_grad, lambda: m.hvp(np.ones(3))):
        with pytest.raises(Mine, match="in loss_grad") as ei:
            fn()
        assert isinstance(ei.value.__context__, hb.CallbackError)   # the C side's report
        assert "loss_grad" in ei.value.__context__.message
    assert len(calls) == 3
    # nothing stays pending: an unrelated later call is clean
    assert hb.Model.from_callbacks(ctx, [("y", (1,))], lambda t: (0.0, t)).loss() == 0.0


def test_exception_in_hvp_callback_propagates(ctx):
    def hvp(th, v):
        raise ZeroDivisionError("in hvp")

    m = hb.Model.from_callbacks(ctx, [("x", (3,))], lambda t: (0.0, t), hvp)
    with pytest.raises(ZeroDivisionError, match="in hvp"):
        m.hvp(np.ones(3))
    with pytest.raises(ZeroDivisionError):
        m.block_hvp("x", np.ones(3))
    assert m.loss() == 0.0


def test_keyboard_interrupt_in_callback_propagates(ctx):
    def lg(th):
        raise KeyboardInterrupt

    m = hb.Model.from_callbacks(ctx, [("x", (2,))], lg)
    with pytest.raises(KeyboardInterrupt):
        m.loss()


def test_callback_bad_returns(ctx):
    m = hb.Model.from_callbacks(ctx, [("x", (3,))], lambda t: (0.0, np.zeros(2)))
    with pytest.raises(hb.ShapeError, match="expected \\(3,\\)"):
        m.loss()
    m = hb.Model.from_callbacks(ctx, [("x", (3,))], lambda t: (float("nan"), np.zeros(3)))
    with pytest.raises(hb.NonFinite):
        m.loss()
    m = hb.Model.from_callbacks(ctx, [("x", (3,))], lambda t: (0.0, t),
                                lambda t, v: np.full(3, np.inf))
    with pytest.raises(hb.NonFinite):
        m.hvp(np.ones(3))
    m = hb.Model.from_callbacks(ctx, [("x", (3,))], lambda t: "nonsense")
    with pytest.raises(ValueError):
        m.loss()
    # writing into the read-only θ fails in Python and propagates as such
    def lg(t):
        t[0] = 1
        return 0.0, t
    m = hb.Model.from_callbacks(ctx, [("x", (3,))], lg)
    with pytest.raises(ValueError, match="read-only"):
        m.loss()


def test_vector_errors(ctx, logistic):
    m = _model(ctx, logistic, exact=True)
    with pytest.raises(hb.ShapeError) as ei:
        m.hvp(np.ones(5))
    assert "6" in ei.value.message
    with pytest.raises(hb.NonFinite):
        m.hvp(np.array([1, 2, np.nan, 0, 0, 0.0]))
    with pytest.raises(hb.DtypeError):
        m.hvp(np.ones(6, dtype=np.int32))
    with pytest.raises(hb.InvalidArgument):
        m.hvp(np.ones(12)[::2])
    with pytest.raises(hb.ShapeError):
        m.hvp_multi(np.ones((2, 6)), out=np.ones((3, 6)))
    with pytest.raises(hb.ShapeError):
        m.hvp_multi(np.ones((2, 4)))
    with pytest.raises(hb.RangeError):
        m.block_hvp(7, np.ones(1))
    with pytest.raises(hb.NotFound):
        m.block_hvp("nope", np.ones(1))
    with pytest.raises(hb.ShapeError):
        m.block_hvp("w", np.ones(4))
    ro = np.zeros(6)
    ro.flags.writeable = False
    with pytest.raises(hb.InvalidArgument):
        m.hvp(np.ones(6), out=ro)


def test_data_calls_on_callback_model(ctx):
    m = hb.Model.from_callbacks(ctx, [("x", (2,))], lambda t: (0.0, t))
    assert m.num_batches == 0 and m.num_samples == 0
    with pytest.raises(hb.Unsupported):
        m.set_batch(np.zeros((1, 2)), np.zeros(1, dtype=np.int32))
    with pytest.raises(hb.Unsupported):
        m.add_batch(np.zeros((1, 2)), np.zeros(1, dtype=np.int32))
    with pytest.raises(hb.Unsupported):
        m.set_synthetic(1)
    with pytest.raises(hb.Unsupported):
        m.accuracy()
    with pytest.raises(hb.DtypeError):
        m.set_batch(np.zeros((1, 2)), np.zeros(1, dtype=np.int64))   # no copy of int64


def test_create_callbacks_errors(ctx):
    lg = lambda t: (0.0, t)   # noqa: E731
    p32 = hb.Params(ctx, "f32")
    p32.add_block("x", 2)
    p32.finalize()
    with pytest.raises(hb.DtypeError):      # f64 callbacks need f64 params
        hb.Model.from_callbacks(ctx, p32, lg, dtype="f64")
    open_p = hb.Params(ctx)
    open_p.add_block("x", 2)
    with pytest.raises(hb.StateError):
        hb.Model.from_callbacks(ctx, open_p, lg)
    # on failure the params stay the caller's, usable and freed by their own close
    assert open_p.finalize().count == 2
    with hb.Context() as other:
        with pytest.raises(hb.InvalidArgument):
            hb.Model.from_callbacks(other, open_p, lg)
    open_p.close()


def test_borrowed_params_cannot_be_taken_twice(ctx):
    m = hb.Model.from_callbacks(ctx, [("x", (2,))], lambda t: (0.0, t))
    with pytest.raises(hb.InvalidArgument, match="belong to a model"):
        hb.Model.from_callbacks(ctx, m.params, lambda t: (0.0, t))
    p = hb.Params(ctx)
    p.add_block("x", 2)
    p.finalize()
    p.close()
    with pytest.raises(hb.ClosedError):
        hb.Model.from_callbacks(ctx, p, lambda t: (0.0, t))
    assert m.loss() == 0.0


def test_params_are_taken_over(ctx):
    p = hb.Params(ctx)
    p.add_block("x", 3)
    p.finalize()
    data = p.data
    m = hb.Model.from_callbacks(ctx, p, lambda t: (float(t.sum()), np.ones(3)))
    assert m.params is p and p._parent is m
    data[:] = 2
    assert m.loss() == 6.0
    p.close()                            # closing the borrowed handle frees nothing
    assert m.loss() == 6.0
    assert m.params is not p and m.params.data.tolist() == [2, 2, 2]
    m.close()
    assert p.closed and m.closed
    assert data.tolist() == [2, 2, 2]    # the view kept the memory alive


# ---- configs and built-in models ---------------------------------------------------------

def test_config(ctx):
    c = hb.ModelConfig(ctx, "gpt", width=32, heads=2)
    assert c["width"] == 32 and c[hb.ModelKey.HEADS] == 2 and c["dtype"] == hb.DType.F64
    assert c.get_i64("vocab") == 65 and c.kind == hb.ModelKind.GPT
    c["dtype"] = "f32"
    assert c["dtype"] == hb.DType.F32
    q = hb.ModelConfig(ctx, "quadratic", quad_cond=100.0, quad_family="homogeneous")
    assert q["quad_cond"] == 100.0 and q.get_f64("quad_cond") == 100.0
    assert q["quad_family"] == hb.QuadraticFamily.HOMOGENEOUS
    mlp = hb.ModelConfig(ctx, hb.ModelKind.MLP, activation="gelu")
    assert mlp["activation"] == hb.Activation.GELU
    q.set_i64("quad_blocks", 3)
    q.set_f64("quad_cond", 10.0)
    assert q["quad_blocks"] == 3 and q["quad_cond"] == 10.0


def test_config_errors(ctx):
    with pytest.raises(hb.InvalidArgument):
        hb.ModelConfig(ctx, "transformer")
    with pytest.raises(hb.InvalidArgument):
        hb.ModelConfig(ctx, 9)
    q = hb.ModelConfig(ctx, "quadratic")
    with pytest.raises(hb.InvalidArgument) as ei:
        q["vocab"] = 10                       # key not used by this kind
    assert "quadratic" in ei.value.message
    with pytest.raises(hb.InvalidArgument):
        q.set_i64("quad_cond", 5)            # real key through the integer setter
    with pytest.raises(hb.InvalidArgument):
        q.get_f64("quad_blocks")
    with pytest.raises(hb.InvalidArgument):
        q["quad_blocks"] = 0                  # out of range
    with pytest.raises(hb.InvalidArgument):
        q["quad_cond"] = float("nan")
    with pytest.raises(hb.DtypeError):
        q.set_i64("dtype", hb.DType.I32)
    with pytest.raises(hb.InvalidArgument):
        q["no_such_key"] = 1


def _fd_hessian(m, h=1e-5):
    """Central differences of the model's own gradients, written through params.data."""
    d = m.params.data
    theta = d.astype(np.float64).copy()
    n = theta.size
    H = np.zeros((n, n))
    for i in range(n):
        d[:] = theta
        d[i] += h
        gp = m.loss_grad()[1].astype(np.float64).copy()
        d[i] -= 2 * h
        gm = m.loss_grad()[1].astype(np.float64).copy()
        H[:, i] = (gp - gm) / (2 * h)
    d[:] = theta
    return H


SMALL = {
    "quadratic": dict(quad_blocks=3, quad_block_size=4, quad_cond=50.0),
    "mlp": dict(inputs=4, width=5, layers=1, classes=3, batch=6),
    "cnn": dict(image_size=4, channels=1, conv_width=2, conv_stages=1, classes=2, batch=3),
    "gpt": dict(vocab=7, context=4, width=8, heads=2, layers=1, batch=2),
}


@pytest.mark.parametrize("kind", list(SMALL))
def test_builtin_model(ctx, kind):
    """Built-in kinds (written by other components): when the library has the kind, its
    exact HVP must match central differences of its gradient; a build without it must
    say so with Unsupported (never crash, never another error)."""
    try:
        m = hb.Model(ctx, kind, **SMALL[kind])
    except hb.Unsupported as e:
        assert kind in e.message and e.status == hb.Status.EUNSUPPORTED
        return
    with m:
        assert m.kind == hb.ModelKind[kind.upper()] and m.name == kind and m.has_exact_hvp
        assert m.params.dtype == hb.DType.F64
        H = m.hessian()
        # symmetric to rounding (exact R-op accumulates in a different order per column)
        np.testing.assert_allclose(H, H.T, atol=1e-9 * max(1, np.abs(H).max()))
        # FD of gradients with h=1e-5: O(h²·|∇³L|) truncation + O(u/h) rounding ≈ 1e-9
        Hfd = _fd_hessian(m)
        np.testing.assert_allclose(H, Hfd, atol=1e-5 * max(1, np.abs(H).max()))
        for b in m.params.blocks:
            np.testing.assert_allclose(m.hessian(b.name),
                                       H[b.offset:b.offset + b.numel, b.offset:b.offset + b.numel],
                                       atol=1e-10 * max(1, np.abs(H).max()))
