"""Trainer (train.h) and SST/LoRA wrappers (sst.h). A component missing from the loaded
library must raise Unsupported (then the tests that need it xfail with that reason)."""
import numpy as np
import pytest

import hessblock as hb
from hessblock import sst as sst_mod, train as train_mod


def _quad(ctx):
    A = np.diag([1.0, 2.0, 4.0])
    m = hb.Model.from_callbacks(ctx, [("w", (2,), "linear"), ("b", (1,), "bias")],
                                lambda t: (0.5 * t @ A @ t, A @ t), lambda t, v: A @ v)
    m.params.data[:] = [1.0, -1.0, 0.5]
    return m, A


@pytest.fixture
def need_train(ctx):
    if not train_mod.AVAILABLE:
        with pytest.raises(hb.Unsupported):
            hb.Trainer(_quad(ctx)[0])
        pytest.xfail("component train not in this library: Unsupported checked instead")


@pytest.fixture
def need_sst(ctx):
    if not sst_mod.AVAILABLE:
        with pytest.raises(hb.Unsupported):
            hb.SSTConfig(ctx)
        pytest.xfail("component sst not in this library: Unsupported checked instead")


def _mlp(ctx, **kw):
    try:
        return hb.Model(ctx, "mlp", inputs=6, width=5, layers=1, classes=3, batch=16, **kw)
    except hb.Unsupported:
        pytest.xfail("mlp model not in this library")


def test_trainer_gd_matches_formula(ctx, need_train):
    m, A = _quad(ctx)
    theta = m.params.data.copy()
    with hb.Trainer(m, lr=0.1) as tr:
        assert tr["lr"] == 0.1 and tr.model is m and tr.optimizer is None
        tr.run(3)
        assert tr.step == 3 and tr.num_records == len(tr) == 3
        losses = []
        for _ in range(3):
            losses.append(0.5 * theta @ A @ theta)
            theta = theta - 0.1 * (A @ theta)
        np.testing.assert_allclose(m.params.data, theta, rtol=1e-15, atol=1e-15)
        h = tr.history()
        np.testing.assert_allclose(h["loss"], losses, rtol=1e-15)
        assert h["step"].tolist() == [0, 1, 2] and (h["lr"] == 0.1).all()
        assert tr.record(1, "loss") == h["loss"][1] and np.isnan(h["eval_loss"]).all()
        assert tr.block_norm(0, "b") == pytest.approx(0.5)
        np.testing.assert_allclose(tr.records("weight_norm", 1, 2), h["weight_norm"][1:])
        with pytest.raises(hb.RangeError):
            tr.record(3, "loss")
        with pytest.raises(hb.InvalidArgument):
            tr["lr"] = -1.0
        with pytest.raises(hb.InvalidArgument):
            tr.run(0)
        with pytest.raises(hb.StateError):
            tr["checkpoint_every"] = 2            # no path yet


def test_trainer_with_optimizer_data_eval_checkpoint(ctx, tmp_path, rng, need_train):
    m = _mlp(ctx)
    opt = hb.Optimizer(ctx, "adam", m.params, lr=1e-2)
    X, y = rng.normal(size=(8, 6)), rng.integers(0, 3, size=8).astype(np.int32)
    seen = []

    def data(model, step):
        seen.append(step)
        model.set_batch(X, y)

    tr = hb.Trainer(m, opt, eval_every=2)
    tr.set_data_fn(data)
    tr.set_eval_fn(lambda model, step: model.set_batch(X[:4].copy(), y[:4].copy()))
    tr.set_checkpoint(tmp_path / "t.ckpt", 2)
    tr.run(4)
    assert seen == [0, 1, 2, 3] and (tmp_path / "t.ckpt").exists()
    h = tr.history()
    assert np.isfinite(h["eval_loss"][[1, 3]]).all() and np.isnan(h["eval_loss"][0])
    assert h["loss"][-1] < h["loss"][0]
    loss, acc = tr.evaluate()
    assert np.isfinite(loss) and 0 <= acc <= 1

    def broken(model, step):
        raise LookupError("no data for step %d" % step)
    tr.set_data_fn(broken)
    with pytest.raises(LookupError, match="step 4") as ei:
        tr.run(2)
    assert isinstance(ei.value.__context__, hb.CallbackError)
    tr.set_data_fn(None)
    start = tr.step
    ctx.set_progress(lambda task, done, total: done < start + 2 if task == "train" else True)
    with pytest.raises(hb.Canceled):
        tr.run(5)
    assert tr.step == start + 2          # the reported step is complete and recorded
    ctx.set_progress(None)
    opt.close()                                   # the trainer borrows it: closed with it
    assert tr.closed


def test_sst_wrapper(ctx, need_sst):
    inner = _mlp(ctx)
    loss0 = inner.loss()
    with hb.SSTConfig(ctx, "spectral", rank=2, kinds=["linear"], iteration=3) as cfg:
        w = hb.SSTModel(inner, cfg)
    assert hb.sst.is_wrapper(w) and not hb.sst.is_wrapper(inner)
    assert w.method == hb.SSTMethod.SPECTRAL and w.inner is inner and w.num_layers == 1
    lay = w.layer(0)
    assert (lay.name, lay.out_dim, lay.in_dim, lay.k, lay.r) == ("layers.0.weight", 5, 6, 5, 2)
    assert [n for n in w.params.names() if n.startswith("layers.0.weight")] == [
        "layers.0.weight.U", "layers.0.weight.s", "layers.0.weight.Vt", "layers.0.weight.Ua",
        "layers.0.weight.Vta", "layers.0.weight.idx"]
    assert list(w.params["layers.0.weight.idx"]) == list(w.active(0))
    assert w.loss() == pytest.approx(loss0, rel=1e-12)       # SVD init: zero distortion
    act = w.active(0)
    assert len(act) == 2 and list(act) == sorted(act) and act.max() < 5
    rest = sum(b.numel for b in inner.params.blocks if b.name != "layers.0.weight")
    assert w.trainable_count == 5 + 2 * (5 + 6) + rest
    with pytest.raises(hb.Unsupported):
        w.hvp(np.ones(w.n))
    w.params["layers.0.weight.s"] *= 0.5
    w.sync()
    assert inner.loss() == pytest.approx(w.loss(), rel=1e-12)
    w.resvd()
    opt = hb.Optimizer(ctx, "adamw", w.params, lr=1e-2)
    assert opt.state_bytes == 2 * w.params.data.itemsize * w.trainable_count  # s + active pairs
    assert w.begin_step(0, opt) >= 0
    w.loss_grad()
    opt.step()
    w.end_step()
    assert (w.params["layers.0.weight.s"] >= 0).all()
    if train_mod.AVAILABLE:
        with hb.Trainer(w, opt) as tr:
            tr.run(4)                             # crosses an iteration boundary (T3 = 3)
            assert tr.step == 5                   # continued from the optimizer's 1 step
    inner.close()                                 # the wrapper borrows inner: closed first
    assert w.closed and opt.closed


def test_lora_and_errors(ctx, need_sst):
    inner = _mlp(ctx)
    loss0 = inner.loss()
    cfg = hb.SSTConfig(ctx, "lora", rank=2, blocks=["layers.0.weight"], lora_alpha=4.0)
    w = hb.SSTModel(inner, cfg)
    assert w.method == hb.SSTMethod.LORA and not w.params["layers.0.weight.B"].any()
    assert w.loss() == pytest.approx(loss0, rel=1e-12)        # B = 0: the same function
    with pytest.raises(hb.InvalidArgument):
        w.active(0)
    with pytest.raises(hb.InvalidArgument):
        w.resvd()
    assert w.begin_step(5) == 1.0
    with pytest.raises(hb.InvalidArgument):
        hb.SSTModel(w, cfg)                        # a wrapper of a wrapper
    bad = hb.SSTConfig(ctx, "spectral", blocks=["nope"])
    with pytest.raises(hb.NotFound):
        hb.SSTModel(inner, bad)
    vec = hb.SSTConfig(ctx, "spectral", blocks=["layers.0.bias"])
    with pytest.raises(hb.ShapeError):
        hb.SSTModel(inner, vec)
    with pytest.raises(hb.InvalidArgument):
        hb.SSTConfig(ctx, "spectral", rank=0)
    with pytest.raises(hb.InvalidArgument):
        hb.SSTConfig(ctx, "dct")
    with pytest.raises(hb.InvalidArgument):
        cfg["uniform_mix"] = 2.0
    cfg["gradient"] = "exact"
    with pytest.raises(hb.InvalidArgument):
        cfg.set_i64("uniform_mix", 0)
    with pytest.raises(hb.InvalidArgument):
        w.begin_step(-1)
    with pytest.raises(hb.RangeError):
        w.layer(3)
