"""Model.from_callbacks with the versioned callback struct (hb_model_create_callbacks_ex,
issue 14.3): f32 callbacks, hvp_multi, block_hvp, accuracy, fd_step. The objective is
known in closed form (as tests/test_callbacks.c):
    L(θ) = ½θᵀAθ − bᵀθ + c·Σθ⁴/4 + e·Σexp(θ),   H = A + diag(3cθ² + e·exp θ)."""
import numpy as np
import pytest

import hessblock as hb

N = 7
SPEC = [("a", (3,)), ("b", (2, 2))]
BLOCKS = [(0, 3), (3, 4)]     # (offset, numel)


class Objective:
    def __init__(self, c=0.3, e=0.2, dtype=np.float64):
        i = np.arange(N)
        A = np.sin(1.0 + i[:, None] * N + i[None, :])
        self.A = np.tril(A) + np.tril(A, -1).T + 4 * np.eye(N)
        self.b, self.c, self.e, self.dtype = np.cos(i + 1.0), c, e, dtype
        self.calls = {"loss_grad": 0, "hvp": 0, "hvp_multi": 0, "block_hvp": 0}
        self.seen = []     # (callback, dtype of theta, shape of the directions)

    def H(self, theta):
        t = np.asarray(theta, dtype=np.float64)
        return self.A + np.diag(3 * self.c * t ** 2 + self.e * np.exp(t))

    def loss_grad(self, theta):
        self.calls["loss_grad"] += 1
        self.seen.append(("loss_grad", theta.dtype, None))
        t = theta.astype(np.float64)
        loss = 0.5 * t @ self.A @ t - self.b @ t + self.c * np.sum(t ** 4) / 4 + self.e * np.sum(np.exp(t))
        return loss, self.A @ t - self.b + self.c * t ** 3 + self.e * np.exp(t)

    def hvp(self, theta, v):
        self.calls["hvp"] += 1
        self.seen.append(("hvp", theta.dtype, v.shape))
        return self.H(theta) @ v

    def hvp_multi(self, theta, V):
        self.calls["hvp_multi"] += 1
        self.seen.append(("hvp_multi", theta.dtype, V.shape))
        return V @ self.H(theta)          # rows: H·v_j (H symmetric)

    def block_hvp(self, theta, b, V_b):
        self.calls["block_hvp"] += 1
        self.seen.append(("block_hvp", theta.dtype, V_b.shape))
        o, n = BLOCKS[b]
        return V_b @ self.H(theta)[o:o + n, o:o + n]


def theta0():
    return 0.8 * np.sin(3.0 * np.arange(N) + 1)


def make(ctx, obj, dtype="f64", **kw):
    m = hb.Model.from_callbacks(ctx, SPEC, obj.loss_grad, dtype=dtype, **kw)
    m.params.data[:] = theta0()
    return m


def rel(a, ref):
    return np.abs(np.asarray(a, np.float64) - ref).max() / np.abs(ref).max()


def directions(k, n, seed=0):
    return np.random.default_rng(seed).normal(size=(k, n))


@pytest.mark.parametrize("dtype", ["f64", "f32"])
@pytest.mark.parametrize("given", ["hvp", "hvp_multi", "both", "none"])
def test_every_product_from_any_subset(ctx, dtype, given):
    obj = Objective()
    kw = {}
    if given in ("hvp", "both"):
        kw["hvp"] = obj.hvp
    if given in ("hvp_multi", "both"):
        kw["hvp_multi"] = obj.hvp_multi
    m = make(ctx, obj, dtype, **kw)
    npd = np.float64 if dtype == "f64" else np.float32
    assert m.params.dtype == hb.DType[dtype.upper()] and m.params.data.dtype == npd
    assert m.has_exact_hvp == (given != "none")
    u = np.finfo(npd).eps
    tol = 20 * u if given != "none" else 100 * u ** (2 / 3)
    H = obj.H(m.params.data)
    V = directions(3, N)
    assert rel(m.hvp_multi(V), V @ H) <= tol
    assert rel(m.hvp(V[0]), H @ V[0]) <= tol
    for b, (o, n) in enumerate(BLOCKS):
        Vb = directions(2, n, b)
        assert rel(m.block_hvp(b, Vb), Vb @ H[o:o + n, o:o + n]) <= tol
    # the callables saw arrays of the callbacks' dtype; hvp_multi got all 3 directions at once
    assert {d for _, d, _ in obj.seen} == {np.dtype(npd)}
    if given in ("hvp_multi", "both"):
        assert ("hvp_multi", np.dtype(npd), (3, N)) in obj.seen
        assert obj.calls["hvp"] == (1 if given == "both" else 0)   # one direction: hvp
    if given == "hvp":
        assert obj.calls["hvp"] == 1 + 3 + 2 + 2
    if given == "none":
        assert obj.calls["loss_grad"] == 2 * (3 + 1 + 2 + 2)


def test_f32_callbacks_match_f64(ctx):
    o32, o64 = Objective(), Objective()
    m32 = make(ctx, o32, "f32", hvp_multi=o32.hvp_multi)
    m64 = make(ctx, o64, "f64", hvp_multi=o64.hvp_multi)
    l32, g32 = m32.loss_grad()
    l64, g64 = m64.loss_grad()
    assert g32.dtype == np.float32
    assert abs(l32 - l64) <= 1e-6 * abs(l64) and rel(g32, g64) <= 1e-6
    V = directions(4, N)
    assert rel(m32.hvp_multi(V), m64.hvp_multi(V)) <= 1e-6
    # the params' dtype decides by default: f32 params -> f32 callbacks, bf16 too
    p = hb.Params(ctx, "bf16")
    for name, shape in SPEC:
        p.add_block(name, shape)
    p.finalize()
    o16 = Objective()
    m16 = hb.Model.from_callbacks(ctx, p, o16.loss_grad, hvp=o16.hvp)
    assert rel(m16.hvp(V[0]), o16.H(np.zeros(N)) @ V[0]) <= 20 * np.finfo(np.float32).eps
    assert o16.seen[-1][1] == np.float32


def test_block_callback(ctx):
    obj = Objective()
    m = make(ctx, obj, hvp=obj.hvp, block_hvp=obj.block_hvp)
    H = obj.H(theta0())
    for b, (o, n) in enumerate(BLOCKS):
        Vb = directions(5, n, b)
        assert rel(m.block_hvp(m.params.names()[b], Vb), Vb @ H[o:o + n, o:o + n]) <= 1e-14
        assert obj.seen[-1] == ("block_hvp", np.float64, (5, n))
    assert obj.calls["block_hvp"] == 2 and obj.calls["hvp"] == 0
    # a dense block Hessian (Model.hessian) comes from ONE block call of numel directions
    np.testing.assert_allclose(m.hessian("b"), H[3:, 3:], rtol=0, atol=1e-14)
    assert obj.calls["block_hvp"] == 3
    # per-block SLQ runs on the block callback alone
    with hb.SLQ(ctx, probes=2, steps=3) as s:
        sp = s.run(m, block="a")
    assert obj.calls["hvp"] == 0
    e = np.linalg.eigvalsh(H[:3, :3])
    for p in sp.probes:
        assert np.abs(p.nodes[:, None] - e[None, :]).min(1).max() <= 1e-10


def test_accuracy_callback(ctx):
    obj = Objective()
    m = make(ctx, obj, accuracy=lambda theta: (3, 4))
    assert m.accuracy() == 0.75
    with pytest.raises(hb.Unsupported):
        make(ctx, obj).accuracy()
    for bad in [(5, 4), (-1, 4), (1.5, 2), None]:
        m = make(ctx, obj, accuracy=lambda theta, bad=bad: bad)
        with pytest.raises((hb.CallbackError, hb.InvalidArgument, TypeError)):
            m.accuracy()


# ---- the finite-difference step -------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["f64", "f32"])
def test_fd_default_step_accuracy(ctx, dtype):
    """Error ≈ u^(2/3) (docs/api.md "Finite-difference step"): quadratic (rounding only)
    and non-quadratic; 100x larger and smaller steps are both worse."""
    u = np.finfo(np.float64 if dtype == "f64" else np.float32).eps
    h = np.cbrt(u)
    v = directions(1, N, 7)[0]

    def err(obj, fd_step=0.0):
        m = make(ctx, obj, dtype, fd_step=fd_step)
        assert not m.has_exact_hvp
        return rel(m.hvp(v), obj.H(m.params.data) @ v)
    quad, cubic = Objective(0, 0), Objective()
    assert err(quad) <= 10 * u ** (2 / 3)
    e = err(cubic)
    assert e <= 10 * u ** (2 / 3)
    assert e == err(cubic, h)                       # 0 is ∛u
    assert err(cubic, 100 * h) > 10 * e and err(cubic, h / 100) > 10 * e


def test_fd_step_is_the_documented_one(ctx):
    """L = Σexp(θ): the central difference is exp(θ)·v·sinh(x)/x with x = ε·v_i,
    ε = fd_step·(1 + ‖θ‖∞)/‖v‖∞, in closed form."""
    obj = Objective(0, 1.0)
    obj.A[:] = 0
    obj.b[:] = 0
    m = make(ctx, obj, fd_step=0.05)
    v = directions(1, N, 3)[0]
    th = m.params.data.copy()
    eps = 0.05 * (1 + np.abs(th).max()) / np.abs(v).max()
    x = eps * v
    np.testing.assert_allclose(m.hvp(v), np.exp(th) * v * np.sinh(x) / x, rtol=1e-9)
    np.testing.assert_allclose(m.hvp(1e3 * v), 1e3 * np.exp(th) * v * np.sinh(x) / x, rtol=1e-9)


# ---- errors --------------------------------------------------------------------------------
def test_bad_arguments(ctx):
    obj = Objective()
    for bad in (-1.0, float("nan"), float("inf")):
        with pytest.raises(hb.InvalidArgument):
            make(ctx, obj, fd_step=bad)
    for bad in ("1e-3", True, None, [1e-3]):
        with pytest.raises(TypeError, match="fd_step"):
            make(ctx, obj, fd_step=bad)
    for name in ("hvp", "hvp_multi", "block_hvp", "accuracy"):
        with pytest.raises(TypeError, match=name):
            make(ctx, obj, **{name: 3})
    with pytest.raises(hb.DtypeError):
        make(ctx, obj, dtype="bf16")
    with pytest.raises(hb.DtypeError):
        make(ctx, obj, dtype="i32")
    p = hb.Params(ctx)          # f64
    p.add_block("x", 2)
    p.finalize()
    with pytest.raises(hb.DtypeError):
        hb.Model.from_callbacks(ctx, p, obj.loss_grad, dtype="f32")
    assert p.count == 2         # not taken on failure
    p.close()


def test_callback_errors_propagate(ctx):
    obj = Objective()

    def broken(theta, V):
        raise ValueError("boom")
    m = make(ctx, obj, hvp_multi=broken, block_hvp=lambda t, b, V: np.zeros((1, 1)))
    with pytest.raises(ValueError, match="boom"):
        m.hvp(np.ones(N))
    with pytest.raises(hb.ShapeError, match="block_hvp returned shape"):
        m.block_hvp(0, np.ones(3))
    m = make(ctx, obj, hvp_multi=lambda t, V: np.full(V.shape, np.nan))
    with pytest.raises(hb.NonFinite):
        m.hvp_multi(np.ones((2, N)))
