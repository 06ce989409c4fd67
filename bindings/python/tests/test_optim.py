"""Optimizers and checkpoints. When the loaded library lacks the component, its
classes must raise Unsupported."""
import math

import numpy as np
import pytest

import hessblock as hb
from hessblock import optim as optim_mod


def _params(ctx, values=None):
    p = hb.Params(ctx)
    p.add_block("fc.weight", (2, 3), "linear")
    p.add_block("fc.bias", 2, "bias")
    p.finalize()
    p.data[:] = np.arange(1.0, 9.0) if values is None else values
    return p


@pytest.fixture
def need_optim(ctx):
    if not optim_mod.AVAILABLE:
        with pytest.raises(hb.Unsupported):
            hb.Optimizer(ctx, "sgd", _params(ctx))
        with pytest.raises(hb.Unsupported):
            hb.checkpoint.save("/nonexistent", _params(ctx))
        pytest.xfail("component optim not in this library: Unsupported checked instead")


def test_unavailable_component_raises(ctx):
    if optim_mod.AVAILABLE:
        assert "optim" in hb.components
    else:
        with pytest.raises(hb.Unsupported):
            hb.Optimizer(ctx, "adam", _params(ctx))


def test_sgd_momentum_matches_formula(ctx, need_optim):
    p = _params(ctx)
    opt = hb.Optimizer(ctx, "sgd", p, lr=0.1, momentum=0.9)
    assert opt.kind == hb.OptimizerKind.SGD and opt.params is p and opt["lr"] == 0.1
    theta, buf = p.data.copy(), None
    for t in range(3):
        g = np.linspace(-1, 1, 8) * (t + 1)
        p.grad[:] = g
        opt.step()
        buf = g if buf is None else 0.9 * buf + g
        theta = theta - 0.1 * buf
        np.testing.assert_allclose(p.data, theta, rtol=1e-15, atol=1e-15)  # same f64 ops
    assert opt.step_count == 3


def test_adamw_matches_formula(ctx, need_optim):
    p = _params(ctx)
    opt = hb.Optimizer(ctx, hb.OptimizerKind.ADAMW, p, lr=0.01, weight_decay=0.1)
    theta = p.data.copy()
    m = np.zeros(8)
    v = np.zeros(8)
    wd = np.array([0.1] * 6 + [0.0] * 2)            # biases are exempt from decay
    assert opt.block_value("fc.bias", "weight_decay") == 0.0
    for t in range(1, 4):
        g = np.cos(np.arange(8.0) * t)
        p.grad[:] = g
        opt.step()
        theta = theta * (1 - 0.01 * wd)
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        theta = theta - (0.01 / (1 - 0.9 ** t)) * m / (np.sqrt(v) / math.sqrt(1 - 0.999 ** t) + 1e-8)
        # the same formula in a different association order: a few ulps
        np.testing.assert_allclose(p.data, theta, rtol=1e-13, atol=1e-15)
    assert opt.state_bytes > 0


def test_nonfinite_gradient_changes_nothing(ctx, need_optim):
    p = _params(ctx)
    opt = hb.Optimizer(ctx, "adam", p)
    p.grad[:] = 1.0
    opt.step()
    before = p.data.copy()
    p.grad[3] = np.nan
    with pytest.raises(hb.NonFinite):
        opt.step()
    assert np.array_equal(p.data, before) and opt.step_count == 1


def test_options_overrides_schedules(ctx, need_optim):
    p = _params(ctx)
    opt = hb.Optimizer(ctx, "sgd", p, lr=1.0)
    opt.override("fc.b*", "lr", 0.5)
    assert opt.block_value("fc.bias", "lr") == 0.5 and opt.block_value(0, "lr") == 1.0
    opt.override_kind("linear", "lr", 0.25)
    assert opt.block_value("fc.weight", "lr") == 0.25
    opt.set_block_value("fc.weight", "lr", 0.125)  # wins over the overrides, replaces itself
    opt.set_block_value("fc.weight", "lr", 0.0625)
    opt.override("fc.*", "lr", 2.0)
    assert opt.block_value("fc.weight", "lr") == 0.0625 and opt.block_value("fc.bias", "lr") == 2.0
    with pytest.raises(hb.NotFound):
        opt.override("nomatch*", "lr", 1.0)
    with pytest.raises(hb.NotFound):
        opt.override_kind("embedding", "lr", 1.0)
    with pytest.raises(hb.InvalidArgument):
        opt["lr"] = -1
    with pytest.raises(hb.Unsupported):
        opt["beta1"] = 0.5                       # not an SGD option
    with pytest.raises(hb.InvalidArgument):
        opt["sparkle"] = 1
    opt["nesterov"] = 0
    assert opt["nesterov"] == 0
    opt.schedule_cosine(warmup=10, total=110, floor=0.1)
    assert opt.lr_factor(5) == pytest.approx(0.5)
    f = 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 0.5))
    assert opt.lr_factor(60) == pytest.approx(f, rel=1e-12)
    with pytest.raises(hb.InvalidArgument):
        opt.schedule_cosine(10, 5)
    opt.schedule(lambda step: 1.0 / step)
    assert opt.lr_factor(4) == 0.25

    def bad(step):
        raise OverflowError("schedule broke")
    opt.schedule(bad)
    with pytest.raises(OverflowError, match="schedule broke"):
        opt.step()
    opt.schedule_constant()
    assert opt.lr_factor(7) == 1.0
    opt.reset()
    assert opt.step_count == 0
    opt.reset_range(0, 3)
    with pytest.raises(hb.RangeError):
        opt.reset_range(1, p.count)
    with pytest.raises(hb.InvalidArgument):
        opt.reset_range(-1, 2)
    assert opt.partitions("fc.weight") == (6, 1)
    assert hb.optim.kind_name(hb.OptimizerKind.ADAM_MINI) == "adam_mini"
    with pytest.raises(hb.InvalidArgument):
        hb.Optimizer(ctx, "lion", p)


def test_optimizer_lifetime(ctx, need_optim):
    p = _params(ctx)
    opt = hb.Optimizer(ctx, "sgd", p)
    p.close()                                    # closing the params closes the optimizer
    assert opt.closed
    with pytest.raises(hb.ClosedError):
        opt.step()


def test_checkpoint_round_trip(ctx, tmp_path, need_optim):
    p = _params(ctx)
    opt = hb.Optimizer(ctx, "adam", p, lr=0.1)
    p.grad[:] = 1.0
    opt.step()
    path = tmp_path / "run.ckpt"
    hb.checkpoint.save(path, p, opt)
    saved = p.data.copy()
    blob = hb.checkpoint.to_bytes(p, opt)
    assert len(blob) == hb.checkpoint.size(p, opt)
    opt.step()
    q = _params(ctx, np.zeros(8))
    opt2 = hb.Optimizer(ctx, "adam", q, lr=0.1)
    hb.checkpoint.load(path, q, opt2)
    assert np.array_equal(q.data, saved) and opt2.step_count == 1
    r = _params(ctx, np.zeros(8))
    hb.checkpoint.from_bytes(blob, r)
    assert np.array_equal(r.data, saved)
    bad = bytearray(blob)
    bad[-1] ^= 0xFF
    with pytest.raises(hb.FormatError):
        hb.checkpoint.from_bytes(bytes(bad), r)
    assert np.array_equal(r.data, saved)          # nothing changed on failure
    with pytest.raises(hb.FileIOError):
        hb.checkpoint.load(tmp_path / "missing.ckpt", r)
    other = hb.Params(ctx)
    other.add_block("x", 40)     # larger than the file: a smaller target is refused by the
    other.finalize()             # loader's size guard first (FormatError; see the report)
    with pytest.raises(hb.ShapeError):
        hb.checkpoint.load(path, other)
    with pytest.raises(hb.InvalidArgument):
        hb.checkpoint.save(path, r, opt)          # optimizer over other params


def test_frozen_block_and_lr_mult(ctx, need_optim):
    # blocks [fc.weight trainable, fc.bias frozen]: the optimizer keeps state for the 6
    # weights only, never changes the bias, ignores a NaN in the bias gradient
    p = _params(ctx)
    assert p.is_trainable("fc.bias") and p.trainable_count == 8
    p.freeze("fc.bias")
    assert not p.is_trainable(1) and p.is_trainable(0) and p.trainable_count == 6
    with pytest.raises(hb.RangeError):
        p.set_trainable(5, False)
    opt = hb.Optimizer(ctx, "sgd", p, lr=0.1, momentum=0.9)
    assert opt.state_bytes == 6 * 8                 # f64 momentum of the weights only
    theta, buf = p.data.copy(), None
    for t in range(3):
        g = np.linspace(-1, 1, 8) * (t + 1)
        g[7] = np.nan                               # frozen: ignored
        p.grad[:] = g
        opt.step()
        buf = g[:6] if buf is None else 0.9 * buf + g[:6]
        theta[:6] = theta[:6] - 0.1 * buf
        np.testing.assert_allclose(p.data, theta, rtol=1e-15, atol=1e-15)  # same f64 ops
    assert np.array_equal(p.data[6:], [7.0, 8.0])   # the frozen bias, bit for bit
    # changing the flags afterwards: the optimizer's state no longer fits
    p.set_trainable("fc.bias", True)
    with pytest.raises(hb.StateError):
        opt.step()
    assert opt.step_count == 3
    # LR_MULT: a global factor on every lr (0.5 is exact in binary)
    p2 = _params(ctx)
    a = hb.Optimizer(ctx, "sgd", p2, lr=0.1)
    a["lr_mult"] = 0.5
    assert a["lr_mult"] == 0.5
    p2.grad[:] = 1.0
    a.step()
    np.testing.assert_array_equal(p2.data, np.arange(1.0, 9.0) - 0.05)
    with pytest.raises(hb.InvalidArgument):
        a["lr_mult"] = -1.0
    with pytest.raises(hb.InvalidArgument):
        a.override("fc.*", "lr_mult", 2.0)
