"""Parameter blocks over one flat vector, with zero-copy numpy views."""
import ctypes
import enum
from collections import namedtuple

from . import _lib
from ._handle import Handle, require, view
from .core import Context, to_enum
from .errors import InvalidArgument, NotFound, RangeError, StateError
from .tensor import NUMPY, DType, Tensor, _shape_arg, to_dtype

c_void_p, c_int, c_int64, c_size_t, c_double, c_char_p = (
    ctypes.c_void_p, ctypes.c_int, ctypes.c_int64, ctypes.c_size_t, ctypes.c_double,
    ctypes.c_char_p)
declare = _lib.declare
P = ctypes.POINTER

MAX_BLOCK_NAME = 127


class BlockKind(enum.IntEnum):
    OTHER = 0
    EMBEDDING = 1
    ATTN_Q = 2
    ATTN_K = 3
    ATTN_V = 4
    ATTN_O = 5
    MLP_IN = 6
    MLP_OUT = 7
    NORM = 8
    BIAS = 9
    HEAD = 10
    CONV = 11
    LINEAR = 12


class Init(enum.IntEnum):
    ZEROS = 1
    CONSTANT = 2
    NORMAL = 3
    UNIFORM = 4
    KAIMING_UNIFORM = 5
    KAIMING_NORMAL = 6
    XAVIER_UNIFORM = 7
    XAVIER_NORMAL = 8
    TORCH_LINEAR = 9
    TORCH_LINEAR_BIAS = 10
    TORCH_EMBEDDING = 11
    TORCH_LAYERNORM_WEIGHT = 12
    TORCH_LAYERNORM_BIAS = 13


BlockInfo = namedtuple("BlockInfo", "index name kind offset numel shape")
BlockInfo.__doc__ = "One block: its index, name, BlockKind, flat offset, element count, shape."

_kind_name = declare("hb_block_kind_name", c_char_p, [c_int])
_create = declare("hb_params_create", c_int, [c_void_p, c_int, P(c_void_p)])
_free = declare("hb_params_free", None, [c_void_p])
_add_block = declare("hb_params_add_block", c_int,
                     [c_void_p, c_char_p, c_int, c_int, P(c_int64), P(c_size_t)])
_finalize = declare("hb_params_finalize", c_int, [c_void_p])
_is_finalized = declare("hb_params_is_finalized", c_int, [c_void_p])
_dtype = declare("hb_params_dtype", c_int, [c_void_p])
_grad_dtype = declare("hb_params_grad_dtype", c_int, [c_void_p])
_count = declare("hb_params_count", c_size_t, [c_void_p])
_num_blocks = declare("hb_params_num_blocks", c_size_t, [c_void_p])
_context = declare("hb_params_context", c_void_p, [c_void_p])
_find_block = declare("hb_params_find_block", c_int, [c_void_p, c_char_p, P(c_size_t)])
_block_info = declare("hb_params_block_info", c_int,
                      [c_void_p, c_size_t, P(c_char_p), P(c_int), P(c_size_t), P(c_size_t),
                       P(c_int), P(c_int64)])
_block_name = declare("hb_params_block_name", c_char_p, [c_void_p, c_size_t])
_data = declare("hb_params_data", c_void_p, [c_void_p])
_grad = declare("hb_params_grad", c_void_p, [c_void_p])
_block_view = declare("hb_params_block_view", c_int, [c_void_p, c_size_t, P(c_void_p)])
_grad_block_view = declare("hb_params_grad_block_view", c_int, [c_void_p, c_size_t, P(c_void_p)])
_flat_view = declare("hb_params_flat_view", c_int, [c_void_p, P(c_void_p)])
_grad_flat_view = declare("hb_params_grad_flat_view", c_int, [c_void_p, P(c_void_p)])
_zero_grad = declare("hb_params_zero_grad", c_int, [c_void_p])
_set_trainable = declare("hb_params_set_trainable", c_int, [c_void_p, c_size_t, c_int])
_block_trainable = declare("hb_params_block_trainable", c_int, [c_void_p, c_size_t, P(c_int)])
_trainable_count = declare("hb_params_trainable_count", c_size_t, [c_void_p])
_init_block = declare("hb_params_init_block", c_int, [c_void_p, c_size_t, c_int, c_double,
                                                      c_double])


def block_kind_name(kind):
    """hb_block_kind_name: 'embedding', 'attn_q', ... ('?' if unknown)."""
    return _kind_name(int(kind)).decode()


class Params(Handle):
    """hb_params: named blocks over one flat parameter vector and its gradient.

    Params(ctx, dtype='f64') builds; add_block(...) then finalize(). Afterwards `data`,
    `grad`, `block(i)` and `grad_block(i)` are zero-copy numpy views (writes go straight
    to the library's memory). A Params keeps its Context alive. The params of a model
    (Model.params) are borrowed: they are freed with the model.
    """

    def __init__(self, ctx, dtype="f64"):
        ctx_ptr = require(ctx, Context, "ctx")
        out = c_void_p()
        ctx._check(_create(ctx_ptr, int(to_dtype(dtype)), ctypes.byref(out)))
        self._ctx = ctx
        self._init_handle(out.value, _free, ctx)

    @classmethod
    def _borrow(cls, owner, ctx, ptr):
        """A Params for memory owned by `owner` (a Model): no free, pins the owner."""
        p = object.__new__(cls)
        p._ctx = ctx
        p._init_handle(ptr, None, owner)
        assert _context(ptr) == ctx._ptr
        return p

    def _check(self, status):
        return self._ctx._check(status)

    @property
    def context(self):
        return self._ctx

    # ---- building
    def add_block(self, name, shape, kind="other"):
        """hb_params_add_block: append a block; returns its index."""
        shape, cshape = _shape_arg(shape)
        idx = c_size_t()
        self._check(_add_block(self._ptr, str(name).encode(), int(to_enum(BlockKind, kind, "block kind")),
                               len(shape), cshape, ctypes.byref(idx)))
        return idx.value

    def finalize(self):
        """hb_params_finalize: allocate both flat buffers (zero-filled)."""
        self._check(_finalize(self._ptr))
        return self

    @property
    def finalized(self):
        return bool(_is_finalized(self._ptr))

    # ---- queries
    @property
    def dtype(self):
        return DType(_dtype(self._ptr))

    @property
    def grad_dtype(self):
        return DType(_grad_dtype(self._ptr))

    @property
    def count(self):
        """hb_params_count: flat length n (0 before finalize)."""
        return int(_count(self._ptr))

    def __len__(self):
        return self.count

    @property
    def num_blocks(self):
        return int(_num_blocks(self._ptr))

    def find_block(self, name):
        """hb_params_find_block: index of the named block (NotFound if none)."""
        idx = c_size_t()
        self._check(_find_block(self._ptr, str(name).encode(), ctypes.byref(idx)))
        return idx.value

    def index(self, block):
        """Block index from an index or a name."""
        if isinstance(block, str):
            return self.find_block(block)
        if isinstance(block, BlockInfo):
            return block.index
        i = int(block)
        if i < 0:
            i += self.num_blocks
        return i

    def block_info(self, block):
        """hb_params_block_info as a BlockInfo."""
        i = self.index(block)
        name, kind, off, numel, ndim = c_char_p(), c_int(), c_size_t(), c_size_t(), c_int()
        shape = (c_int64 * 4)()
        self._check(_block_info(self._ptr, i, ctypes.byref(name), ctypes.byref(kind),
                                ctypes.byref(off), ctypes.byref(numel), ctypes.byref(ndim), shape))
        k = kind.value
        try:
            k = BlockKind(k)
        except ValueError:
            pass
        return BlockInfo(i, name.value.decode(), k, off.value, numel.value,
                         tuple(shape[j] for j in range(ndim.value)))

    def block_name(self, i):
        """hb_params_block_name (RangeError when out of range)."""
        raw = _block_name(self._ptr, int(i))
        if raw is None:
            raise RangeError("block %d out of range (%d blocks)" % (int(i), self.num_blocks), -11)
        return raw.decode()

    @property
    def blocks(self):
        """Every block's BlockInfo, in layout order."""
        return [self.block_info(i) for i in range(self.num_blocks)]

    def names(self):
        return [self.block_name(i) for i in range(self.num_blocks)]

    def __contains__(self, name):
        try:
            self.find_block(name)
            return True
        except NotFound:
            return False

    # ---- trainable / frozen blocks
    def set_trainable(self, block, trainable=True):
        """hb_params_set_trainable: mark a block (index or name) trainable or frozen.

        A frozen block keeps its values and gradient; optimizers created afterwards keep no
        state for it and never change it (an existing optimizer's step then fails with
        StateError: create a new one)."""
        self._check(_set_trainable(self._ptr, self.index(block), 1 if trainable else 0))

    def freeze(self, block):
        """set_trainable(block, False)."""
        self.set_trainable(block, False)

    def is_trainable(self, block):
        """hb_params_block_trainable."""
        v = c_int()
        self._check(_block_trainable(self._ptr, self.index(block), ctypes.byref(v)))
        return bool(v.value)

    @property
    def trainable_count(self):
        """hb_params_trainable_count: elements in trainable blocks."""
        return int(_trainable_count(self._ptr))

    # ---- zero-copy views
    def _need_final(self):
        if not self.finalized:
            raise StateError("params are not finalised", -9)

    @property
    def data(self):
        """The flat parameter vector: a writeable zero-copy numpy view (bf16: uint16 bits)."""
        self._need_final()
        return view(self._res, _data(self._ptr), (self.count,), NUMPY[self.dtype])

    @property
    def grad(self):
        """The flat gradient vector: a writeable zero-copy numpy view."""
        self._need_final()
        return view(self._res, _grad(self._ptr), (self.count,), NUMPY[self.grad_dtype])

    def block(self, block):
        """Block `block` (index or name) of the parameters, in its shape, zero-copy."""
        self._need_final()
        b = self.block_info(block)
        return self.data[b.offset:b.offset + b.numel].reshape(b.shape)

    def grad_block(self, block):
        """Block `block` of the gradient, in its shape, zero-copy."""
        self._need_final()
        b = self.block_info(block)
        return self.grad[b.offset:b.offset + b.numel].reshape(b.shape)

    def __getitem__(self, block):
        return self.block(block)

    def __setitem__(self, block, value):
        self.block(block)[...] = value

    def split(self, vector):
        """Views of a flat vector (numpy, length n) per block: {name: array in block shape}."""
        if len(vector) != self.count:
            raise InvalidArgument("vector has %d entries, params have %d" % (len(vector), self.count), -1)
        return {b.name: vector[b.offset:b.offset + b.numel].reshape(b.shape) for b in self.blocks}

    # C tensor views (hb_tensor over the params' memory)
    def _tview(self, fn, *args):
        out = c_void_p()
        self._check(fn(self._ptr, *args, ctypes.byref(out)))
        return Tensor._adopt(self._ctx, out.value, parent=self)

    def block_tensor(self, block):
        """hb_params_block_view: a Tensor view of a block (kept valid by this Params)."""
        return self._tview(_block_view, self.index(block))

    def grad_block_tensor(self, block):
        """hb_params_grad_block_view."""
        return self._tview(_grad_block_view, self.index(block))

    def flat_tensor(self):
        """hb_params_flat_view."""
        return self._tview(_flat_view)

    def grad_flat_tensor(self):
        """hb_params_grad_flat_view."""
        return self._tview(_grad_flat_view)

    # ---- operations
    def zero_grad(self):
        """hb_params_zero_grad."""
        self._check(_zero_grad(self._ptr))

    def init_block(self, block, init, a=0.0, b=0.0):
        """hb_params_init_block: fill a block by an Init (e.g. 'torch_linear')."""
        self._check(_init_block(self._ptr, self.index(block), int(to_enum(Init, init, "init")),
                                float(a), float(b)))

    def __repr__(self):
        if self.closed:
            return "<hessblock.Params closed>"
        return "<hessblock.Params %s n=%d blocks=%d%s>" % (
            self.dtype.name.lower(), self.count, self.num_blocks,
            "" if self.finalized else " (building)")
