"""Params: building, queries, zero-copy views of data, gradient and blocks."""
import numpy as np
import pytest

import hessblock as hb


def make(ctx, dtype="f64"):
    p = hb.Params(ctx, dtype)
    assert p.add_block("fc.weight", (4, 3), "linear") == 0
    assert p.add_block("fc.bias", 4, hb.BlockKind.BIAS) == 1
    assert p.add_block("emb", (2, 5), 1) == 2
    return p


def test_build_and_query(ctx):
    p = make(ctx)
    assert not p.finalized and p.count == 0 and p.num_blocks == 3
    assert "building" in repr(p)
    with pytest.raises(hb.StateError):
        p.data
    p.finalize()
    assert p.finalized and p.count == len(p) == 26 and p.dtype == p.grad_dtype == hb.DType.F64
    b = p.blocks
    assert [x.name for x in b] == ["fc.weight", "fc.bias", "emb"] == p.names()
    assert [x.offset for x in b] == [0, 12, 16] and [x.numel for x in b] == [12, 4, 10]
    assert b[0].shape == (4, 3) and b[2].kind == hb.BlockKind.EMBEDDING
    assert p.find_block("emb") == 2 and p.block_info("fc.bias").kind == hb.BlockKind.BIAS
    assert p.block_info(-1).name == "emb"
    assert p.block_name(1) == "fc.bias" and "emb" in p and "nope" not in p
    assert hb.block_kind_name(hb.BlockKind.ATTN_Q) == "attn_q" and hb.block_kind_name(99) == "?"
    assert p.context is ctx


def test_build_errors(ctx):
    p = make(ctx)
    with pytest.raises(hb.InvalidArgument) as ei:
        p.add_block("fc.bias", 3)           # duplicate
    assert "fc.bias" in ei.value.message
    with pytest.raises(hb.InvalidArgument):
        p.add_block("", 3)
    with pytest.raises(hb.InvalidArgument):
        p.add_block("x" * 128, 3)
    with pytest.raises(hb.ShapeError):
        p.add_block("z", (3, 0))
    with pytest.raises(hb.InvalidArgument):
        p.add_block("k", 3, "nonsense")
    with pytest.raises(hb.InvalidArgument):
        p.add_block("k", 3, 77)
    with pytest.raises(hb.StateError):
        hb.Params(ctx).finalize()           # no blocks
    p.finalize()
    with pytest.raises(hb.StateError):
        p.finalize()
    with pytest.raises(hb.StateError):
        p.add_block("late", 2)
    with pytest.raises(hb.NotFound):
        p.find_block("nope")
    with pytest.raises(hb.RangeError):
        p.block_info(3)
    with pytest.raises(hb.RangeError):
        p.block_name(3)
    with pytest.raises(hb.DtypeError):
        hb.Params(ctx, "i32")


def test_views_alias_c_memory(ctx):
    p = make(ctx).finalize()
    d = p.data
    d[:] = np.arange(26)
    w = p.block("fc.weight")
    assert w.shape == (4, 3) and w[1, 0] == 3 and np.shares_memory(w, d)
    # write through numpy, read through C (a tensor view's get)
    p["emb"] = -1.0
    with p.block_tensor("emb") as t:
        assert t.shape == (2, 5) and not t.owned and t[9] == -1.0
        t[0] = 42.0                       # write through C, read through numpy
    assert d[16] == 42.0
    with p.flat_tensor() as ft:
        assert ft.address == d.ctypes.data and ft.size == 26
    g = p.grad
    g[:] = 5
    assert p.grad_block(1).tolist() == [5.0] * 4
    with p.grad_flat_tensor() as gt:
        assert gt[25] == 5
    with p.grad_block_tensor("fc.bias") as gb:
        gb.fill(2)
    assert (g[12:16] == 2).all()
    p.zero_grad()                         # C zeroes; the old view sees it
    assert not g.any()
    parts = p.split(np.arange(26.0))
    assert parts["fc.bias"].tolist() == [12, 13, 14, 15]
    with pytest.raises(hb.InvalidArgument):
        p.split(np.zeros(3))


def test_init_block(ctx):
    p = make(ctx).finalize()
    ctx.seed = 7
    p.init_block("fc.weight", "torch_linear")
    w = p.block("fc.weight").copy()
    assert np.all(np.abs(w) <= 1 / np.sqrt(3)) and np.unique(w).size == 12
    p.init_block(1, hb.Init.CONSTANT, 0.25)
    assert (p.block(1) == 0.25).all()
    ctx.seed = 7
    p.init_block("fc.weight", "torch_linear")
    assert np.array_equal(p.block("fc.weight"), w)   # same seed, same numbers
    with pytest.raises(hb.InvalidArgument):
        p.init_block(0, "uniform", 1.0, 0.0)
    with pytest.raises(hb.RangeError):
        p.init_block(9, "zeros")
    with pytest.raises(hb.InvalidArgument):
        p.init_block(0, "glorot")
    q = make(ctx)
    with pytest.raises(hb.StateError):
        q.init_block(0, "zeros")


def test_f32_and_bf16_params(ctx):
    p = make(ctx, np.float32).finalize()
    assert p.data.dtype == np.float32 and p.grad.dtype == np.float32
    q = make(ctx, "bf16").finalize()
    assert q.dtype == hb.DType.BF16 and q.grad_dtype == hb.DType.F32
    q.init_block(1, "constant", 1.0)
    assert q.data.dtype == np.uint16 and q.block(1).tolist() == [hb.f32_to_bf16(1.0)] * 4
