"""Real data (docs/data.md): IDX files (Fashion-MNIST) and image statistics.
Model.set_images (model.py) turns images and labels into a classifier's micro-batches."""
import ctypes
import os

from . import _lib
from .core import Context
from ._handle import require
from .tensor import Tensor

c_void_p, c_int, c_char_p, c_double = ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_double
declare = _lib.declare

IDX_MAX_ELEMENTS = 1 << 28   # HB_IDX_MAX_ELEMENTS

_idx_read = declare("hb_idx_read", c_int, [c_void_p, c_char_p, ctypes.POINTER(c_void_p)])
_images_stats = declare("hb_images_stats", c_int,
                        [c_void_p, c_void_p, ctypes.POINTER(c_double), ctypes.POINTER(c_double)])

FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"


def idx_read(ctx, path):
    """hb_idx_read: the IDX file at path (raw or gzip) as a library-owned Tensor: i32 for
    u8/i8/i16/i32 elements, f32, f64; .numpy() views it without a copy."""
    ctx_ptr = require(ctx, Context, "ctx")
    out = c_void_p()
    ctx._check(_idx_read(ctx_ptr, os.fsencode(path), ctypes.byref(out)))
    return Tensor._adopt(ctx, out.value)


def images_stats(ctx, images):
    """hb_images_stats: (mean, std) of pixel/255 over every pixel of images (a Tensor or a
    numpy int32/float32/float64 array of values 0..255)."""
    ctx_ptr = require(ctx, Context, "ctx")
    t = images if isinstance(images, Tensor) else Tensor.wrap(ctx, images)
    try:
        mean, std = c_double(), c_double()
        ctx._check(_images_stats(ctx_ptr, t._ptr, ctypes.byref(mean), ctypes.byref(std)))
        return mean.value, std.value
    finally:
        if t is not images:
            t.close()
