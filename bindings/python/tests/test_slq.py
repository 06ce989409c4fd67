"""SLQ component: linear operators, spectra, traces, top-k, JS distances, progress.
When the loaded library lacks the component, its classes must raise Unsupported."""
import json

import numpy as np
import pytest

import hessblock as hb
from hessblock import slq as slq_mod



def _unavailable(ctx):
    for make in (lambda: hb.SLQ(ctx), lambda: hb.LinOp.dense(ctx, np.eye(2)),
                 lambda: hb.Spectrum(ctx, 3), lambda: hb.LinOp.from_callable(ctx, 2, lambda x: x)):
        with pytest.raises(hb.Unsupported):
            make()


@pytest.fixture
def need_slq(ctx):
    if not slq_mod.AVAILABLE:
        _unavailable(ctx)
        pytest.xfail("component slq not in this library: Unsupported checked instead")


def test_unavailable_component_raises(ctx):
    if slq_mod.AVAILABLE:
        assert "slq" in hb.components
    else:
        _unavailable(ctx)


def _sym(rng, n, eigs=None):
    Q, _ = np.linalg.qr(rng.normal(size=(n, n)))
    eigs = np.linspace(-1, 4, n) if eigs is None else np.asarray(eigs, float)
    return (Q * eigs) @ Q.T, eigs


def test_linop_dense_and_callable(ctx, rng, need_slq):
    A, _ = _sym(rng, 6)
    A = 0.5 * (A + A.T)
    X = rng.normal(size=(3, 6))
    with hb.LinOp.dense(ctx, A) as op:
        assert op.size == 6
        np.testing.assert_allclose(op.apply(X), X @ A, rtol=1e-13, atol=1e-13)
        np.testing.assert_allclose(op @ X[0], A @ X[0], rtol=1e-13, atol=1e-13)
    B = A.copy()
    op = hb.LinOp.dense(ctx, B, copy=False)            # borrowed, kept alive by op
    B *= 2                                              # zero-copy: the operator sees it
    np.testing.assert_allclose(op.apply(X[0].copy()), 2 * A @ X[0], rtol=1e-13, atol=1e-13)
    cop = hb.LinOp.from_callable(ctx, 6, lambda x: A @ x)
    np.testing.assert_allclose(cop.apply(X), X @ A, rtol=1e-13, atol=1e-13)
    with pytest.raises(hb.InvalidArgument):
        hb.LinOp.dense(ctx, np.triu(np.ones((3, 3))))  # not symmetric
    with pytest.raises(hb.NonFinite):
        hb.LinOp.dense(ctx, np.full((2, 2), np.nan))
    with pytest.raises(hb.InvalidArgument):
        hb.LinOp.dense(ctx, np.ones((2, 3)))
    with pytest.raises(hb.InvalidArgument):
        op.apply(np.ones(5))
    with pytest.raises(TypeError):
        hb.LinOp()


def test_slq_exact_on_small_matrix(ctx, rng, need_slq):
    n = 12
    A, eigs = _sym(rng, n)
    A = 0.5 * (A + A.T)
    with hb.SLQ(ctx, probes=4, steps=n, reorth="full") as s, hb.LinOp.dense(ctx, A) as op:
        assert s["probes"] == 4 and s["steps"] == n and s["reorth"] == hb.Reorth.FULL
        sp = s.run(op)
        assert sp.dim == n and sp.num_probes == 4 and len(sp) == 4
        # n Lanczos steps with full reorthogonalisation: Ritz values are the eigenvalues
        # (to ~1e-12 for a well-separated spectrum of this size; 1e-8 leaves margin)
        lo, hi = sp.extremes()
        assert abs(lo - eigs[0]) < 1e-8 and abs(hi - eigs[-1]) < 1e-8
        q = sp.probe(0)
        assert q.nodes.flags.writeable is False and abs(q.weights.sum() - 1) < 1e-12
        # the quadrature is exact for moments of order <= 2m-1: tr(A)/n estimate per probe
        # is v'Av/|v|²; its mean over probes is unbiased, not exact: 4 probes of a 12x12 give
        # a standard error the library reports; the truth must be within 5 of them.
        tr, se = sp.trace()
        assert abs(tr - eigs.sum()) <= 5 * se + 1e-9
        grid = np.linspace(eigs[0] - 2, eigs[-1] + 2, 4001)
        d = sp.density(grid, sigma=0.05)
        assert abs(np.trapz(d, grid) - 1) < 1e-3     # a density (Gaussians fully inside)
        assert sp.default_sigma > 0 and sp.moment(0)[0] == pytest.approx(1.0)
        doc = sp.to_dict()
        assert doc["format"] == "hessblock-spectrum" and doc["dim"] == n
        assert len(doc["probes"]) == 4
        assert sp.to_csv().splitlines()[0] == "probe,index,node,weight"


def test_js_matrix_stderr(ctx, need_slq):
    """Bootstrap standard errors: 0 for identical probes, positive and deterministic
    otherwise, StateError (not a 0) for a one-probe spectrum."""
    a, b, c = hb.Spectrum(ctx, 3), hb.Spectrum(ctx, 3), hb.Spectrum(ctx, 3)
    for p in range(4):
        a.add_probe([1.0, 2.0, 3.0], [1, 1, 1])
        b.add_probe([1.5, 2.5, 4.0], [1, 1, 1])
        c.add_probe([1.0, 2.0, 3.0], [1 + p, 1, 4 - p])
    S, se = hb.js_matrix_stderr([a, b], replicates=20)
    assert S.shape == (2, 2) and np.all(S == 0) and se == 0
    S1, se1 = hb.js_matrix_stderr([a, b, c], replicates=30, stream=5, grid="symlog")
    S2, se2 = hb.js_matrix_stderr([a, b, c], replicates=30, stream=5, grid="symlog")
    assert np.array_equal(S1, S2) and se1 == se2 and se1 > 0
    assert np.allclose(S1, S1.T) and np.all(np.diag(S1) == 0) and S1[0, 2] > 0
    one = hb.Spectrum(ctx, 3)
    one.add_probe([1.0, 2.0], [1, 1])
    with pytest.raises(hb.StateError, match="1 probe"):
        hb.js_matrix_stderr([a, one])
    with pytest.raises(hb.InvalidArgument):
        hb.js_matrix_stderr([a, b], replicates=1)
    with pytest.raises(hb.InvalidArgument):
        hb.js_matrix_stderr([])


def test_spectrum_manual_js(ctx, tmp_path, need_slq):
    a = hb.Spectrum(ctx, 3)
    a.add_probe([1.0, 2.0, 3.0], [1, 1, 1])
    b = hb.Spectrum(ctx, 3)
    b.add_probe([10.0, 20.0, 30.0], [1, 1, 1])
    assert a.js_distance(a) == pytest.approx(0.0, abs=1e-12)
    assert 0 < a.js_distance(b) <= 1
    # scale-normalised, the two spectra are the same shape: distance 0 (to rounding)
    assert a.js_distance(b, normalize=True) == pytest.approx(0.0, abs=1e-9)
    M, mean = hb.js_matrix([a, b, a])
    assert M.shape == (3, 3) and np.allclose(M, M.T) and np.allclose(np.diag(M), 0)
    assert mean == pytest.approx(M[~np.eye(3, dtype=bool)].mean())
    a.save_json(tmp_path / "a.json")
    assert json.load(open(tmp_path / "a.json"))["num_probes"] == 1
    a.save_csv(tmp_path / "a.csv")
    with pytest.raises(hb.FileIOError):
        a.save_json(tmp_path / "no" / "such" / "dir.json")
    with pytest.raises(hb.InvalidArgument):
        a.add_probe([1.0], [-1.0])
    with pytest.raises(hb.NonFinite):
        a.add_probe([np.nan], [1.0])
    with pytest.raises(hb.RangeError):
        a.probe(5)
    with pytest.raises(hb.InvalidArgument):
        a.js_distance(b, grid_points=2)


def test_js_zero_spectra(ctx, need_slq):
    """Issue 12.4: a numerically-zero spectrum (nodes ~1e-22 next to spectra of size 1) is
    left out of normalised JS comparisons: NaN row/column, mean over the others."""
    def spec(nodes, weights):
        sp = hb.Spectrum(ctx, 50)
        sp.add_probe(nodes, weights)
        return sp
    a, b = spec([1.0, 2.0, 3.0], [1, 1, 1]), spec([0.5, 4.0], [1, 2])
    c, z = spec([-1.0, 2.0], [1, 3]), spec([-3e-22, 1e-22], [1, 1])
    assert a.unit_roundoff == 2.0 ** -53
    flags, tol = hb.zero_flags([a, z, b, c])
    assert flags.tolist() == [False, True, False, False] and tol == 2.0 ** -53
    M, mean = hb.js_matrix([a, z, b, c], normalize=True)
    M3, mean3 = hb.js_matrix([a, b, c], normalize=True)
    assert np.isnan(M[1, :]).all() and np.isnan(M[:, 1]).all()
    assert np.array_equal(M[np.ix_([0, 2, 3], [0, 2, 3])], M3) and mean == mean3
    assert np.isnan(a.js_distance(z, normalize=True))
    Mk, meank = hb.js_matrix([a, z, b, c], normalize=True, keep_zero=True)
    assert np.isfinite(Mk).all() and meank != mean3
    assert np.isfinite(hb.js_matrix([a, z, b, c])[0]).all()  # unnormalised: unchanged
    assert hb.zero_flags([a, z, b, c], zero_rel_tol=0.6)[0].tolist() == [False, True, False, True]
    with pytest.raises(hb.InvalidArgument):
        hb.js_matrix([a, z], normalize=True, zero_rel_tol=1.5)


def test_zero_blocks_f32_gpt(ctx, need_slq):
    """The key bias of a tiny f32 gpt is zero in exact arithmetic: flagged, with u = 2**-24."""
    m = hb.Model(ctx, "gpt", vocab=16, context=8, width=16, heads=2, layers=1, batch=4,
                 dtype="f32")
    with hb.SLQ(ctx, probes=2, steps=10) as slq:
        spectra, M, mean = slq.block_heterogeneity(m, normalize=True)
    names = list(spectra)
    flags, tol = hb.zero_flags(spectra.values())
    assert tol == 2.0 ** -24
    k = names.index("h.0.attn.wk.bias")
    assert flags[k] and np.isnan(M[k]).all() and np.isfinite(mean)


def _js_symlog_numpy(a, b, sigma_rel, floor, G):
    """The documented symlog JS distance of two single-probe spectra, in numpy."""
    (xa, wa), (xb, wb) = a, b
    c = floor * max(np.abs(xa).max(), np.abs(xb).max())
    ua, ub = np.arcsinh(np.asarray(xa) / c), np.arcsinh(np.asarray(xb) / c)
    lo, hi = min(ua.min(), ub.min()), max(ua.max(), ub.max())
    s = sigma_rel * (hi - lo)
    u = np.linspace(lo - 5 * s, hi + 5 * s, G)
    P = (np.asarray(wa) * np.exp(-0.5 * ((u[:, None] - ua) / s) ** 2)).sum(1)
    Q = (np.asarray(wb) * np.exp(-0.5 * ((u[:, None] - ub) / s) ** 2)).sum(1)
    P, Q = P / P.sum(), Q / Q.sum()
    M = (P + Q) / 2
    kl = lambda X: np.sum(np.where(X > 0, X * np.log2(np.where(X > 0, X, 1) / M), 0))
    return np.sqrt(max(0.5 * kl(P) + 0.5 * kl(Q), 0))


def test_js_symlog_grid(ctx, need_slq):
    spa = ([-0.3, 2e-4, 2.0], [0.2, 0.5, 0.3])
    spb = ([1e-5, 0.05], [0.25, 0.75])
    a, b = hb.Spectrum(ctx, 3), hb.Spectrum(ctx, 2)
    a.add_probe(*spa)
    b.add_probe(*spb)
    d = a.js_distance(b, grid="symlog", symlog_floor_rel=1e-4, grid_points=97, sigma_rel=0.03)
    ref = _js_symlog_numpy(spa, spb, 0.03, 1e-4, 97)
    assert 0.2 < ref < 1
    # same formula, summed in another order: 1e-12 covers the rounding of ~100 terms
    assert d == pytest.approx(ref, abs=1e-12)
    # the default grid is still the linear one
    assert a.js_distance(b) == a.js_distance(b, grid="linear")
    assert a.js_distance(b) != d
    M, _ = hb.js_matrix([a, b], grid=hb.JSGrid.SYMLOG, symlog_floor_rel=1e-4, grid_points=97,
                        sigma_rel=0.03)
    assert M[0, 1] == d
    with pytest.raises(hb.InvalidArgument):
        a.js_distance(b, grid="symlog", symlog_floor_rel=0)
    with pytest.raises((hb.InvalidArgument, ValueError)):
        a.js_distance(b, grid="log")


def test_topk_and_trace(ctx, rng, need_slq):
    A, eigs = _sym(rng, 20, eigs=np.arange(1.0, 21.0))
    A = 0.5 * (A + A.T)
    with hb.SLQ(ctx, probes=200) as s, hb.LinOp.dense(ctx, A) as op:
        t = s.topk(op, 3, "largest", vectors=True)
        # converged pairs have residual <= 1e-8·max|θ|: eigenvalue error <= residual
        assert t.converged == 3
        np.testing.assert_allclose(t.values, [20, 19, 18], atol=1e-6)
        np.testing.assert_allclose(np.abs(t.vectors @ A @ t.vectors.T), np.diag([20, 19, 18]), atol=1e-5)
        assert s.topk(op, 1, "smallest").values[0] == pytest.approx(1.0, abs=1e-6)
        tr, se = s.trace(op)
        assert abs(tr - 210) <= 5 * se + 1e-9
        with pytest.raises(hb.InvalidArgument):
            s.topk(op, 21)


def test_topk_counts_multiplicity(ctx, rng, need_slq):
    # issue 12.3: the three smallest eigenvalues are all -1; one Lanczos run sees -1 once
    A, _ = _sym(rng, 30, eigs=np.r_[-1.0, -1.0, -1.0, 0.5, np.linspace(2.0, 5.0, 26)])
    A = 0.5 * (A + A.T)
    with hb.SLQ(ctx) as s, hb.LinOp.dense(ctx, A) as op:
        t = s.topk(op, 4, "smallest", vectors=True)
        assert t.converged == 4
        # residual <= 1e-8·‖A‖ = 5e-8 bounds each eigenvalue error
        np.testing.assert_allclose(t.values, [-1, -1, -1, 0.5], atol=1e-7)
        np.testing.assert_allclose(t.vectors @ t.vectors.T, np.eye(4), atol=1e-10)


def _quad_model(ctx, rng):
    H1, e1 = _sym(rng, 5, np.linspace(1, 2, 5))
    H2, e2 = _sym(rng, 4, np.linspace(10, 50, 4))
    H = np.zeros((9, 9))
    H[:5, :5], H[5:, 5:] = 0.5 * (H1 + H1.T), 0.5 * (H2 + H2.T)
    m = hb.Model.from_callbacks(ctx, [("a", (5,)), ("b", (4,))],
                                lambda th: (0.5 * th @ H @ th, H @ th), lambda th, v: H @ v)
    return m, H, e1, e2


def test_topk_blocks(ctx, rng, need_slq):
    # per-block top-k in one call: the eigenvalues of each diagonal block, NaN past a
    # block's size, the full Hessian's as an entry of its own
    m, H, e1, e2 = _quad_model(ctx, rng)
    with hb.SLQ(ctx) as s:
        vals, res, conv = s.topk_blocks(m, 5, "largest", blocks=["a", "b", "full"])
        assert vals.shape == (3, 5) and list(conv) == [5, 4, 5]
        np.testing.assert_allclose(vals[0], np.sort(e1)[::-1], atol=1e-7)
        np.testing.assert_allclose(vals[1, :4], np.sort(e2)[::-1], atol=1e-6)
        assert np.isnan(vals[1, 4]) and np.isnan(res[1, 4])
        np.testing.assert_allclose(vals[2], np.sort(np.r_[e1, e2])[::-1][:5], atol=1e-6)
        with pytest.raises(hb.InvalidArgument):
            s.topk_blocks(m, 0)


def test_slq_on_models(ctx, rng, need_slq):
    m, H, e1, e2 = _quad_model(ctx, rng)
    with hb.SLQ(ctx, probes=3, steps=9) as s:
        sp = s.run(m)
        assert sp.dim == 9
        lo, hi = sp.extremes()
        assert lo == pytest.approx(1.0, abs=1e-8) and hi == pytest.approx(50.0, abs=1e-8)
        spb = s.run(m, block="b")
        assert spb.dim == 4 and spb.extremes()[0] == pytest.approx(10.0, abs=1e-8)
        traces, errs = s.trace_model_blocks(m)
        assert traces.shape == (2,)
        st = s.stats
        assert st["apply_vectors"] >= st["apply_calls"] >= 1 and st["total_seconds"] >= 0
        with pytest.raises(hb.InvalidArgument):
            s["stat_apply_calls"] = 3                 # read-only
        spectra, M, mean = s.block_heterogeneity(m)
        assert list(spectra) == ["a", "b"] and M.shape == (2, 2) and 0 < mean <= 1
        with hb.LinOp.block(m, "a") as op:
            assert op.size == 5
            np.testing.assert_allclose(op.apply(np.eye(5)), H[:5, :5], atol=1e-12)
        with pytest.raises(hb.InvalidArgument):
            s.run("not a model")


def test_run_blocks(ctx, rng, need_slq):
    m, H, e1, e2 = _quad_model(ctx, rng)
    ctx.threads = 2
    with hb.SLQ(ctx, probes=3, steps=4, group=2) as s:
        assert s["group"] == 2
        seen = []
        got = s.run_blocks(m, ["b", "full", 0], streams=[5, 6, 7], on_done=seen.append)
        assert sorted(seen) == [0, 1, 2] and [g.dim for g in got] == [4, 9, 5]
        s["stream"] = 6
        alone = s.run(m)
        np.testing.assert_array_equal(got[1].probe(2)[0], alone.probe(2)[0])  # bit for bit
        assert len(s.run_blocks(m)) == 2
        with pytest.raises(hb.Canceled):
            s.run_blocks(m, on_done=lambda i: True)
        with pytest.raises(hb.RangeError):
            s.run_blocks(m, [7])


def test_progress_and_cancel(ctx, rng, need_slq):
    m, *_ = _quad_model(ctx, rng)
    seen = []
    ctx.set_progress(lambda task, done, total: seen.append((task, done, total)))
    with hb.SLQ(ctx, probes=2, steps=5) as s:
        s.run(m)
        assert seen and seen[-1][0] == "slq" and all(d <= t for _, d, t in seen)
        ctx.set_progress(lambda task, done, total: False)
        with pytest.raises(hb.Canceled):
            s.run(m)

        def boom(task, done, total):
            raise RuntimeError("stop here")
        ctx.set_progress(boom)
        with pytest.raises(RuntimeError, match="stop here") as ei:
            s.run(m)
        assert isinstance(ei.value.__context__, hb.Canceled)
        ctx.set_progress(None)
        s.run(m)


def test_callback_exception_through_slq(ctx, need_slq):
    def bad(x):
        raise FloatingPointError("operator failed")
    op = hb.LinOp.from_callable(ctx, 4, bad)
    with hb.SLQ(ctx, probes=2, steps=3) as s:
        with pytest.raises(FloatingPointError, match="operator failed"):
            s.run(op)
    with pytest.raises(FloatingPointError):
        op.apply(np.ones(4))


def test_slq_options_and_errors(ctx, need_slq):
    s = hb.SLQ(ctx)
    s["probe_dist"] = "gaussian"
    assert s["probe_dist"] == hb.Probe.GAUSSIAN
    s["breakdown_tol"] = 1e-9
    assert s["breakdown_tol"] == 1e-9 and s.get_f64("topk_tol") > 0
    s["basis_dtype"] = "f32"
    assert s["basis_dtype"] == hb.DType.F32
    s.set_i64("stream", 3)
    assert s.get_i64("stream") == 3
    with pytest.raises(hb.InvalidArgument):
        s["probes"] = 0
    with pytest.raises(hb.InvalidArgument):
        s.set_i64("breakdown_tol", 1)
    with pytest.raises(hb.InvalidArgument):
        s["nope"] = 1


def test_linop_keeps_model_alive_and_closes_with_it(ctx, rng, need_slq):
    import gc
    import weakref
    m, *_ = _quad_model(ctx, rng)
    op = hb.LinOp.hessian(m)
    ref = weakref.ref(m)
    del m
    gc.collect()
    assert ref() is not None and op.size == 9
    ref().close()
    assert op.closed
    with pytest.raises(hb.ClosedError):
        op.apply(np.ones(9))


def test_restore_probe_exact(ctx, need_slq):
    """restore_probe keeps nodes and weights bit for bit (add_probe renormalises); a
    restored copy gives the same JS values; bad input raises."""
    a = hb.Spectrum(ctx, 4)
    a.add_probe([0.5, 1.0, 3.0], [0.1, 0.3, 0.6000000000000001])
    b = hb.Spectrum(ctx, 4)
    b.add_probe([1.0, 2.0, 5.0], [0.2, 0.2, 0.6])
    r = hb.Spectrum(ctx, 4)
    nodes, weights = a.probe(0)[:2]
    r.restore_probe(nodes, weights)
    r.set_unit_roundoff(a.unit_roundoff)
    assert np.array_equal(r.probe(0)[0], nodes) and np.array_equal(r.probe(0)[1], weights)
    assert np.array_equal(hb.js_matrix([a, b])[0], hb.js_matrix([r, b])[0])
    with pytest.raises(hb.InvalidArgument):
        r.restore_probe([2.0, 1.0], [0.5, 0.5])   # not ascending
    with pytest.raises(hb.InvalidArgument):
        r.restore_probe([1.0, 2.0], [0.5, 0.6])   # does not sum to 1
    with pytest.raises(hb.InvalidArgument):
        r.set_unit_roundoff(0.0)
