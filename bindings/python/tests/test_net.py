"""hb.Net: the network builder from Python (include/hessblock/net.h)."""
import numpy as np
import pytest

import hessblock as hb

pytestmark = pytest.mark.skipif("net" not in hb.components, reason="library without hb_net")


def _mlp_net(ctx, dtype="f64"):
    net = hb.Net(ctx, dtype)
    net.input_features("x", (5,))
    net.linear("fc1", "x", "h", 7).activation("tanh", "h", "a")
    net.linear("head", "a", "logits", 3, kind="head").loss_xent("logits")
    return net


def _fd_hvp(model, v, eps=1e-5):
    theta = model.params.data
    theta += eps * v
    _, gp = model.loss_grad()
    gp = gp.copy()
    theta -= 2 * eps * v
    _, gm = model.loss_grad()
    theta += eps * v
    return (gp - gm) / (2 * eps)


def test_mlp_net_hvp_matches_finite_differences():
    rng = np.random.default_rng(0)
    with hb.Context(seed=3) as ctx:
        net = _mlp_net(ctx)
        assert net.shape("logits") == (3,)
        assert net.op_count >= 5
        m = net.model()
        names = [b.name for b in m.params.blocks]
        assert names == ["fc1.weight", "fc1.bias", "head.weight", "head.bias"]
        x = rng.standard_normal((6, 5))
        y = rng.integers(0, 3, size=6).astype(np.int32)
        m.set_batch(x, y)
        v = rng.standard_normal(m.params.count)
        hv = m.hvp(v)
        fd = _fd_hvp(m, v)
        assert np.max(np.abs(hv - fd)) <= 1e-6 * np.max(np.abs(hv))
        # the net is a definition: a second model is initialised afresh
        m2 = net.model()
        assert not np.array_equal(m2.params.data, m.params.data)


def test_shape_errors_name_the_op_and_leave_the_net_unchanged():
    with hb.Context(seed=1) as ctx:
        net = hb.Net(ctx)
        net.input_features("x", (4,))
        n0 = net.op_count
        with pytest.raises(hb.NotFound):
            net.linear("fc", "nope", "h", 3)
        net.input_features  # still usable
        net.linear("fc", "x", "h", 3)
        with pytest.raises(hb.ShapeError) as e:
            net.add("x", "h", "s")
        assert "add" in str(e.value)
        assert net.op_count == n0 + 1
        with pytest.raises(hb.InvalidArgument):
            net.linear("fc2", "x", "h", 3)          # output name taken
        with pytest.raises(hb.InvalidArgument):
            net.model()                              # no loss yet


def test_argument_types_are_checked():
    with hb.Context() as ctx:
        net = hb.Net(ctx)
        with pytest.raises(TypeError):
            net.input_features(3.5, (4,))
        with pytest.raises(TypeError):
            net.input_features("x", "abc")
        net.input_features("x", (4,))
        with pytest.raises(TypeError):
            net.linear("fc", "x", "h", "3")
        with pytest.raises(hb.InvalidArgument):
            net.activation("swish-ish", "x", "y")


def test_rename_kind_and_init():
    with hb.Context(seed=2) as ctx:
        net = _mlp_net(ctx)
        net.rename_block("head.weight", "lm_head")
        net.set_block_kind("fc1.bias", "other")
        net.set_init("fc1.weight", "constant", 0.5)
        m = net.model()
        blocks = {b.name: b for b in m.params.blocks}
        assert "lm_head" in blocks
        assert blocks["fc1.bias"].kind == hb.BlockKind.OTHER
        w = m.params.block("fc1.weight")
        assert np.all(w == 0.5)
        with pytest.raises(hb.NotFound):
            net.rename_block("nope", "x")
