"""Tensors: hb_tensor owned by the library or wrapping a numpy array (zero-copy)."""
import ctypes
import enum

import numpy as np

from . import _lib
from ._handle import Handle, require, type_error, view
from .core import Context, to_enum
from .errors import DtypeError, InvalidArgument, ShapeError, check

c_void_p, c_int, c_int64, c_size_t, c_double = (ctypes.c_void_p, ctypes.c_int, ctypes.c_int64,
                                                ctypes.c_size_t, ctypes.c_double)
declare = _lib.declare

MAX_DIMS = 4


class DType(enum.IntEnum):
    F32 = 1
    F64 = 2
    BF16 = 3   # storage only; numpy views show the raw bits as uint16
    I32 = 4


# numpy dtype of each hb dtype (bf16 as its raw 16-bit pattern)
NUMPY = {DType.F32: np.dtype(np.float32), DType.F64: np.dtype(np.float64),
         DType.BF16: np.dtype(np.uint16), DType.I32: np.dtype(np.int32)}
_FROM_NUMPY = {np.dtype(np.float32): DType.F32, np.dtype(np.float64): DType.F64,
               np.dtype(np.int32): DType.I32}

_dtype_size = declare("hb_dtype_size", c_size_t, [c_int])
_create = declare("hb_tensor_create", c_int,
                  [c_void_p, c_int, c_int, ctypes.POINTER(c_int64), ctypes.POINTER(c_void_p)])
_wrap = declare("hb_tensor_wrap", c_int, [c_void_p, c_int, c_int, ctypes.POINTER(c_int64),
                                          c_void_p, ctypes.POINTER(c_void_p)])
_free = declare("hb_tensor_free", None, [c_void_p])
_dtype = declare("hb_tensor_dtype", c_int, [c_void_p])
_ndim = declare("hb_tensor_ndim", c_int, [c_void_p])
_dim = declare("hb_tensor_dim", c_int64, [c_void_p, c_int])
_numel = declare("hb_tensor_numel", c_size_t, [c_void_p])
_nbytes = declare("hb_tensor_nbytes", c_size_t, [c_void_p])
_data = declare("hb_tensor_data", c_void_p, [c_void_p])
_data_const = declare("hb_tensor_data_const", c_void_p, [c_void_p])
_is_owned = declare("hb_tensor_is_owned", c_int, [c_void_p])
_fill = declare("hb_tensor_fill", c_int, [c_void_p, c_double])
_copy = declare("hb_tensor_copy", c_int, [c_void_p, c_void_p])
_get = declare("hb_tensor_get_f64", c_int, [c_void_p, c_size_t, ctypes.POINTER(c_double)])
_set = declare("hb_tensor_set_f64", c_int, [c_void_p, c_size_t, c_double])
_f32_to_bf16 = declare("hb_f32_to_bf16", ctypes.c_uint16, [ctypes.c_float])
_bf16_to_f32 = declare("hb_bf16_to_f32", ctypes.c_float, [ctypes.c_uint16])


def to_dtype(value):
    """A DType from a DType, int, name ('f32', 'bf16'...) or numpy float32/float64/int32."""
    if isinstance(value, (np.dtype, type)) and not isinstance(value, enum.EnumMeta):
        try:
            d = np.dtype(value)
        except TypeError:
            d = None
        if d is not None and d in _FROM_NUMPY:
            return _FROM_NUMPY[d]
        if d is not None:
            raise DtypeError("numpy dtype %s has no libhessblock equivalent "
                             "(float32, float64, int32)" % d, -4)
    return to_enum(DType, value, "dtype")


def dtype_size(dtype):
    """hb_dtype_size: bytes per element (0 for an unknown dtype)."""
    return int(_dtype_size(int(dtype)))


def f32_to_bf16(x):
    """hb_f32_to_bf16: the bf16 bit pattern (int) of x, round-to-nearest-even."""
    return int(_f32_to_bf16(float(x)))


def bf16_to_f32(bits):
    """hb_bf16_to_f32: the float value of a bf16 bit pattern."""
    return float(_bf16_to_f32(int(bits)))


def _shape_arg(shape):
    shape = (int(shape),) if np.isscalar(shape) else tuple(int(s) for s in shape)
    if not 1 <= len(shape) <= MAX_DIMS:
        raise InvalidArgument("a tensor has 1..%d dimensions, got %d" % (MAX_DIMS, len(shape)), -1)
    return shape, (c_int64 * len(shape))(*shape)


def check_array(arr, what, dtypes=(np.float32, np.float64, np.int32), writeable=False):
    """Validate an array to be wrapped zero-copy: numpy, C-contiguous, allowed dtype.
    Never copies: a non-array raises ArgumentTypeError (a TypeError), a wrong dtype
    DtypeError (a TypeError, as numpy's casting errors), a wrong layout InvalidArgument
    (a ValueError)."""
    if not isinstance(arr, np.ndarray):
        raise type_error(what, "a numpy array", arr)
    if arr.dtype not in [np.dtype(d) for d in dtypes]:
        raise DtypeError("%s has dtype %s; expected one of %s" % (
            what, arr.dtype, ", ".join(np.dtype(d).name for d in dtypes)), -4)
    if not arr.flags.c_contiguous:
        raise InvalidArgument("%s must be C-contiguous (use np.ascontiguousarray)" % what, -1)
    if not arr.flags.aligned:
        raise InvalidArgument("%s is not aligned for its dtype" % what, -1)
    if writeable and not arr.flags.writeable:
        raise InvalidArgument("%s must be writeable" % what, -1)
    return arr


class Tensor(Handle):
    """hb_tensor. Create with Tensor.zeros / Tensor.empty (owned by the library) or
    Tensor.wrap(ctx, array) (zero-copy over a C-contiguous float32/float64/int32 numpy
    array, which the tensor keeps alive). .numpy() is a zero-copy view either way."""

    def __init__(self, *a, **k):
        raise TypeError("use Tensor.zeros(ctx, shape, dtype) or Tensor.wrap(ctx, array)")

    @classmethod
    def _adopt(cls, ctx, ptr, parent=None, array=None, readonly=False):
        t = object.__new__(cls)
        t._ctx = ctx
        t._array = array        # the wrapped numpy array, kept alive
        t._readonly = readonly
        t._init_handle(ptr, _free, parent if parent is not None else ctx, keep=array)
        return t

    @classmethod
    def zeros(cls, ctx, shape, dtype="f64"):
        """hb_tensor_create: an owned, zero-filled tensor."""
        ctx_ptr = require(ctx, Context, "ctx")
        shape, cshape = _shape_arg(shape)
        out = c_void_p()
        ctx._check(_create(ctx_ptr, int(to_dtype(dtype)), len(shape), cshape, ctypes.byref(out)))
        return cls._adopt(ctx, out.value)

    empty = zeros

    @classmethod
    def wrap(cls, ctx, array, shape=None):
        """hb_tensor_wrap over `array` (not copied). A read-only array gives a read-only
        tensor (the bindings refuse to write into it). shape may reinterpret the array
        (same number of elements)."""
        ctx_ptr = require(ctx, Context, "ctx")
        check_array(array, "array")
        if array.ndim == 0:
            raise ShapeError("cannot wrap a 0-d array", -3)
        shape, cshape = _shape_arg(array.shape if shape is None else shape)
        if int(np.prod(shape)) != array.size:
            raise ShapeError("shape %s does not hold %d elements" % (shape, array.size), -3)
        out = c_void_p()
        ctx._check(_wrap(ctx_ptr, int(_FROM_NUMPY[array.dtype]), len(shape), cshape,
                         array.ctypes.data, ctypes.byref(out)))
        return cls._adopt(ctx, out.value, array=array, readonly=not array.flags.writeable)

    # ---- queries
    @property
    def context(self):
        return self._ctx

    @property
    def dtype(self):
        return DType(_dtype(self._ptr))

    @property
    def ndim(self):
        return int(_ndim(self._ptr))

    def dim(self, i):
        """hb_tensor_dim: size of dimension i (0 when out of range)."""
        return int(_dim(self._ptr, int(i)))

    @property
    def shape(self):
        p = self._ptr
        return tuple(int(_dim(p, i)) for i in range(_ndim(p)))

    @property
    def size(self):
        return int(_numel(self._ptr))

    def __len__(self):
        return self.dim(0)

    @property
    def nbytes(self):
        return int(_nbytes(self._ptr))

    @property
    def owned(self):
        """True if the library owns the memory (hb_tensor_is_owned)."""
        return bool(_is_owned(self._ptr))

    @property
    def address(self):
        """The data address (hb_tensor_data_const)."""
        return int(_data_const(self._ptr) or 0)

    def numpy(self):
        """A zero-copy numpy view of the data (bf16 as uint16 bits); keeps the memory
        alive after close() until the view is dropped."""
        p = self._ptr
        addr = _data_const(p) if self._readonly else _data(p)
        if self._array is not None:
            return self._array.reshape(self.shape)
        return view(self._res, addr, self.shape, NUMPY[self.dtype], self._readonly)

    # ---- element access and bulk ops
    def _writable(self):
        if self._readonly:
            raise InvalidArgument("tensor wraps a read-only array", -1)
        return self._ptr

    def fill(self, value):
        """hb_tensor_fill."""
        self._ctx._check(_fill(self._writable(), float(value)))

    def copy_from(self, src):
        """hb_tensor_copy(self, src): elementwise copy with dtype conversion."""
        if isinstance(src, np.ndarray):
            with Tensor.wrap(self._ctx, src) as t:
                return self._ctx._check(_copy(self._writable(), t._ptr))
        if not isinstance(src, Tensor):
            raise type_error("src", "a hessblock.Tensor or a numpy array", src)
        self._ctx._check(_copy(self._writable(), src._ptr))

    def __getitem__(self, i):
        """hb_tensor_get_f64 at flat index i."""
        v = c_double()
        self._ctx._check(_get(self._ptr, int(i), ctypes.byref(v)))
        return v.value

    def __setitem__(self, i, value):
        """hb_tensor_set_f64 at flat index i."""
        self._ctx._check(_set(self._writable(), int(i), float(value)))

    def __repr__(self):
        if self.closed:
            return "<hessblock.Tensor closed>"
        return "<hessblock.Tensor %s %s %s>" % (self.dtype.name.lower(), self.shape,
                                               "owned" if self.owned else "view")


def as_input(ctx, arr, what, dtypes=(np.float32, np.float64)):
    """A temporary Tensor wrapping `arr` for one call (the caller closes it)."""
    if isinstance(arr, Tensor):
        return arr, False
    check_array(arr, what, dtypes)
    return Tensor.wrap(ctx, arr), True
