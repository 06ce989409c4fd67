"""Tensors: owned and wrapping, zero-copy views, conversions, errors."""
import numpy as np
import pytest

import hessblock as hb


def test_dtype_sizes():
    assert [hb.dtype_size(d) for d in hb.DType] == [4, 8, 2, 4]
    assert hb.dtype_size(99) == 0


def test_owned_tensor(ctx):
    t = hb.Tensor.zeros(ctx, (2, 3), "f32")
    assert t.owned and t.shape == (2, 3) and t.ndim == 2 and t.size == 6 and len(t) == 2
    assert t.dtype == hb.DType.F32 and t.nbytes == 24 and t.dim(1) == 3 and t.dim(7) == 0
    a = t.numpy()
    assert a.dtype == np.float32 and a.shape == (2, 3) and not a.any()
    t.fill(1.5)
    assert (a == 1.5).all()               # C wrote, the view sees it
    a[1, 2] = 7                           # the view writes, C reads it
    assert t[5] == 7.0
    t[0] = -2
    assert a[0, 0] == -2
    assert a.ctypes.data == t.address
    assert "f32" in repr(t)


def test_wrap_is_zero_copy(ctx):
    arr = np.arange(12, dtype=np.float64).reshape(3, 4)
    t = hb.Tensor.wrap(ctx, arr)
    assert not t.owned and t.address == arr.ctypes.data and t.shape == (3, 4)
    t.fill(2.0)
    assert (arr == 2).all()
    arr[0, 1] = 9
    assert t[1] == 9.0
    assert t.numpy() is not None and np.shares_memory(t.numpy(), arr)
    t2 = hb.Tensor.wrap(ctx, arr, shape=(12,))
    assert t2.shape == (12,)


def test_wrap_keeps_array_alive(ctx):
    import gc
    arr = np.ones(1000)
    t = hb.Tensor.wrap(ctx, arr)
    del arr
    gc.collect()
    assert t[999] == 1.0


def test_wrap_rejects_without_copying(ctx):
    with pytest.raises(hb.DtypeError):
        hb.Tensor.wrap(ctx, np.zeros(3, dtype=np.int64))
    with pytest.raises(hb.DtypeError):
        hb.Tensor.wrap(ctx, np.zeros(3, dtype=np.complex128))
    with pytest.raises(hb.InvalidArgument):
        hb.Tensor.wrap(ctx, np.zeros((4, 4))[:, 1])       # not contiguous
    with pytest.raises(hb.InvalidArgument):
        hb.Tensor.wrap(ctx, [1.0, 2.0])                   # not an ndarray
    with pytest.raises(hb.ShapeError):
        hb.Tensor.wrap(ctx, np.zeros((2, 3)), shape=(5,))
    with pytest.raises(hb.InvalidArgument):
        hb.Tensor.wrap(ctx, np.zeros((1, 1, 1, 1, 1)))   # 5-d
    with pytest.raises(hb.ShapeError):
        hb.Tensor.wrap(ctx, np.array(3.0))
    raw = np.zeros(17, dtype=np.uint8)[1:9].view(np.float64)   # misaligned
    with pytest.raises(hb.InvalidArgument):
        hb.Tensor.wrap(ctx, raw)


def test_readonly_array_gives_readonly_tensor(ctx):
    arr = np.ones(4)
    arr.flags.writeable = False
    t = hb.Tensor.wrap(ctx, arr)
    assert t[0] == 1.0
    with pytest.raises(hb.InvalidArgument):
        t.fill(0)
    with pytest.raises(hb.InvalidArgument):
        t[0] = 3
    assert (arr == 1).all()


def test_create_errors(ctx):
    with pytest.raises(hb.ShapeError) as ei:
        hb.Tensor.zeros(ctx, (3, 0))
    assert "dimension" in ei.value.message or ei.value.message
    with pytest.raises(hb.InvalidArgument):
        hb.Tensor.zeros(ctx, ())
    with pytest.raises(hb.InvalidArgument):
        hb.Tensor.zeros(ctx, 3, "f16")
    with pytest.raises(hb.DtypeError):
        hb.Tensor.zeros(ctx, 3, 9)   # a number that is no dtype reaches C
    with pytest.raises(hb.SizeOverflowError):
        hb.Tensor.zeros(ctx, (2**31, 2**31, 2**31, 2**31))
    with pytest.raises(TypeError):
        hb.Tensor()


def test_copy_convert_bf16(ctx):
    src = np.array([1.0, -2.5, 3.14159, np.nan, np.inf], dtype=np.float32)
    t = hb.Tensor.zeros(ctx, 5, "bf16")
    t.copy_from(src)
    bits = t.numpy()
    assert bits.dtype == np.uint16
    assert list(bits[:3]) == [hb.f32_to_bf16(x) for x in src[:3]]
    assert hb.bf16_to_f32(bits[1]) == -2.5
    assert np.isnan(t[3]) and np.isinf(t[4])
    back = hb.Tensor.zeros(ctx, 5, "f64")
    back.copy_from(t)
    assert abs(back[2] - 3.14159) < 3.14159 * 2**-8   # bf16 keeps 8 significant bits
    i = hb.Tensor.zeros(ctx, 5, np.int32)
    i.copy_from(np.array([1.7, -1.7, 3, 4, 5]))
    assert list(i.numpy()) == [1, -1, 3, 4, 5]        # truncation toward zero
    with pytest.raises(hb.ShapeError):
        back.copy_from(np.zeros(4))


def test_index_errors(ctx):
    t = hb.Tensor.zeros(ctx, 3)
    with pytest.raises(hb.RangeError):
        t[3]
    with pytest.raises(hb.RangeError):
        t[3] = 1
