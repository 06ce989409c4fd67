"""Handle lifetimes: close(), context managers, double close, use after close, views
that outlive their handle, children keeping parents alive, context cascade."""
import gc
import weakref

import numpy as np
import pytest

import hessblock as hb


def _params(ctx):
    p = hb.Params(ctx)
    p.add_block("a", (2, 2))
    p.add_block("b", 3)
    return p.finalize()


def test_double_close_and_use_after_close(ctx):
    p = _params(ctx)
    p.close()
    p.close()                              # idempotent
    assert p.closed and "closed" in repr(p)
    for use in (lambda: p.count, lambda: p.data, lambda: p.add_block("c", 1),
                lambda: p.find_block("a"), lambda: p.zero_grad(), lambda: p.block(0)):
        with pytest.raises(hb.ClosedError):
            use()
    with pytest.raises(hb.StateError):     # ClosedError is a StateError ...
        p.count
    with pytest.raises(ValueError):        # ... and a ValueError, like a closed file
        p.count
    with pytest.raises(hb.ClosedError):
        with p:
            pass


@pytest.mark.parametrize("make", [
    lambda c: c,
    lambda c: hb.Tensor.zeros(c, 3),
    lambda c: hb.Tensor.wrap(c, np.zeros(3)),
    lambda c: _params(c),
    lambda c: hb.ModelConfig(c, "quadratic"),
    lambda c: hb.Model.from_callbacks(c, [("x", (2,))], lambda t: (0.0, t)),
])
def test_every_handle_closes(ctx, make):
    h = make(ctx)
    if h is ctx:
        h = hb.Context()
    with h as same:
        assert same is h and not h.closed
    assert h.closed
    h.close()
    with pytest.raises(hb.ClosedError):
        h._ptr


def test_context_close_cascades(hb):
    c = hb.Context()
    p = _params(c)
    t = hb.Tensor.zeros(c, 2)
    m = hb.Model.from_callbacks(c, [("x", (2,))], lambda th: (0.0, th))
    mp = m.params
    c.close()
    assert p.closed and t.closed and m.closed and mp.closed and c.closed
    with pytest.raises(hb.ClosedError):
        m.loss()
    with pytest.raises(hb.ClosedError):
        c.threads


def test_child_keeps_parent_alive(hb):
    c = hb.Context()
    ref = weakref.ref(c)
    p = _params(c)
    del c
    gc.collect()
    assert ref() is not None               # the Params holds its Context
    p.data[:] = 1.0
    assert p.data.sum() == 7.0
    del p
    gc.collect()
    assert ref() is None                   # and lets go of it with itself


def test_view_outlives_close(hb):
    c = hb.Context()
    p = _params(c)
    d = p.data
    blk = p.block("b")
    d[:] = np.arange(7.0)
    res = p._res
    c.close()                              # closes p too: the handles are dead ...
    assert p.closed and c.closed
    assert not res.released                # ... but the memory stays while views live
    assert blk.tolist() == [4.0, 5.0, 6.0] and d.sum() == 21.0
    blk[0] = -1                            # still valid memory, no crash
    assert d[4] == -1
    del d
    gc.collect()
    assert not res.released                # blk is a view of the same base
    del blk
    gc.collect()
    assert res.released                    # the last view released the C objects


def test_model_params_view_keeps_model_memory(hb):
    c = hb.Context()
    m = hb.Model.from_callbacks(c, [("x", (4,))], lambda th: (0.0, th))
    g = m.params.grad
    m.params.data[:] = 3
    m.loss_grad()
    assert g.tolist() == [3.0] * 4
    mres = m._res
    m.close()
    c.close()
    assert not mres.released and g.tolist() == [3.0] * 4
    del g
    gc.collect()
    assert mres.released


def test_tensor_view_of_params(hb):
    c = hb.Context()
    p = _params(c)
    t = p.block_tensor("a")
    a = t.numpy()
    assert a.shape == (2, 2)
    p.close()                             # closes the tensor view handle too
    assert t.closed
    a[0, 0] = 5.0                          # params memory still alive through `a`
    assert a[0, 0] == 5.0
    del a
    c.close()


def test_callback_theta_kept_by_user_stays_valid(hb):
    kept = []

    def lg(th):
        kept.append(th)
        return 0.0, th.copy()

    with hb.Context() as c:
        m = hb.Model.from_callbacks(c, [("x", (3,))], lg)
        m.params.data[:] = 7
        m.loss()
    assert m.closed
    assert kept[0].tolist() == [7.0] * 3   # the user kept θ past close: still valid memory
    kept.clear()
    gc.collect()


def test_gc_frees_without_close(hb):
    c = hb.Context()
    p = _params(c)
    res = p._res
    del p
    gc.collect()
    assert res.released
    c.close()
