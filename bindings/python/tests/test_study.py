"""High-level studies (the CLI's subcommands in Python) on small built-in models."""
import numpy as np
import pytest

import hessblock as hb
from hessblock import study


def _need(ctx):
    if not (hb.slq.AVAILABLE and hb.optim.AVAILABLE):
        with pytest.raises(hb.Unsupported):
            study.spectrum(hb.Model.from_callbacks(ctx, [("x", (2,))], lambda t: (0.0, t)))
        pytest.xfail("slq/optim components not in this library: Unsupported checked instead")


def _mlp(ctx):
    try:
        return hb.Model(ctx, "mlp", inputs=4, width=6, layers=1, classes=3, batch=16)
    except hb.Unsupported:
        pytest.xfail("mlp model not in this library")


def test_spectrum_study(ctx):
    _need(ctx)
    m = _mlp(ctx)
    r = study.spectrum(m, probes=3, steps=20, seed=5)
    assert r["full"].dim == m.n and r["names"] == m.params.names()
    assert set(r["blocks"]) == set(r["names"]) and r["js"].shape == (4, 4)
    assert 0 <= r["js_mean"] <= 1 and np.allclose(r["js"], r["js"].T)
    # every JS value carries its bootstrap standard error (probe noise; 3 probes: > 0)
    assert r["js_stderr"].shape == r["js"].shape and r["js_mean_stderr"] > 0
    assert study.spectrum(m, probes=1, steps=5, full=False, seed=5)["js_mean_stderr"] is None
    r2 = study.spectrum(m, probes=3, steps=20, full=False, blocks=["head.weight", 0], seed=5)
    assert r2["full"] is None and r2["names"] == ["head.weight", "layers.0.weight"]
    # same seed, same calls: the same probes, bit for bit
    r3 = study.spectrum(m, probes=3, steps=20, full=False, blocks=["head.weight", 0], seed=5)
    for nm in r2["names"]:
        assert np.array_equal(r2["blocks"][nm].probe(0).weights, r3["blocks"][nm].probe(0).weights)


def test_train_checkpoint_resume(ctx, tmp_path):
    _need(ctx)
    m = _mlp(ctx)
    init = m.params.data.copy()
    ck = tmp_path / "t.ckpt"
    full = study.train(m, "adam", steps=12, lr=1e-2)
    assert full["steps"] == 12 and full["losses"][-1] < full["losses"][0]
    end = m.params.data.copy()
    m.params.data[:] = init
    half = study.train(m, "adam", steps=6, lr=1e-2, checkpoint=ck, checkpoint_every=3)
    assert half["steps"] == 6 and ck.exists()
    m.params.data[:] = 0                       # resume restores parameters and state
    rest = study.train(m, "adam", steps=12, lr=1e-2, resume=ck)
    assert rest["steps"] == 12 and len(rest["losses"]) == 6
    # the same steps from the same state: bit-identical parameters
    assert np.array_equal(m.params.data, end)
    stop = study.train(m, "sgd", steps=50, lr=1e-3, callback=lambda t, loss: t < 4)
    assert stop["steps"] == 4
    with pytest.raises(hb.InvalidArgument):
        study.train(m, "sgd", steps=1, schedule="linear")


def test_train_sst_schedule_and_resume(ctx, tmp_path):
    """study.train drives an SST wrapper's schedule (the active pairs change at the
    iteration boundaries) and a resumed run equals the uninterrupted one bit for bit."""
    _need(ctx)
    if not hb.sst.AVAILABLE:
        pytest.xfail("sst component not in this library")
    m = _mlp(ctx)
    with hb.SSTConfig(ctx, "spectral", rank=2, kinds=["linear"], iteration=3, rewarm=2) as cfg:
        w = hb.SSTModel(m, cfg)
    init = w.params.data.copy()
    seen = {tuple(w.active(0))}
    study.train(w, "adamw", steps=10, lr=1e-2, callback=lambda t, loss: seen.add(tuple(w.active(0))) or True)
    assert len(seen) > 1                       # redrawn at steps 3, 6, 9
    end = w.params.data.copy()
    w.params.data[:] = init
    ck = tmp_path / "sst.ckpt"
    study.train(w, "adamw", steps=7, lr=1e-2, checkpoint=ck, checkpoint_every=7)
    w.params.data[:] = 0                       # the checkpoint holds the whole SST state
    study.train(w, "adamw", steps=10, lr=1e-2, resume=ck)
    assert np.array_equal(w.params.data, end)


def test_quadratic_study(ctx):
    _need(ctx)
    r = study.quadratic(ctx, blocks=2, block_size=4, cond=50.0, max_iters=400, tol=1e-4,
                        per_decade=2)
    assert r["lstar"] < r["l0"] == 0.0
    for name in ("gd", "sgd_momentum", "adam"):
        res = r["methods"][name]
        assert res["best_iters"] > 0 and res["curve"][0] == pytest.approx(1.0)
        assert res["curve"][-1] <= 1e-4 and len(res["lrs"]) == len(res["iters"])
    # heavy-ball momentum needs fewer iterations than GD on an ill-conditioned quadratic
    assert r["methods"]["sgd_momentum"]["best_iters"] < r["methods"]["gd"]["best_iters"]


def test_analyze(ctx):
    _need(ctx)
    try:
        a = study.analyze(ctx, "mlp", steps=5, probes=2, lanczos_steps=10, inputs=4, width=6,
                          layers=1, classes=3, batch=16)
    except hb.Unsupported:
        pytest.xfail("mlp model not in this library")
    assert a["js0"].shape == (4, 4) and 0 <= a["js0_mean"] <= 1
    assert a["runs"]["sgd"][0] == a["runs"]["adam"][0]     # same initial point
