"""Models: built-in objectives (configs) and user objectives written in Python."""
import ctypes
import os
import enum

import numpy as np

from . import _lib
from ._handle import Handle, require, type_error, view
from .core import Context, _callable_or_none, to_enum
from .errors import DtypeError, InvalidArgument, ShapeError, check, store_exception
from .params import Params
from .tensor import Tensor, check_array, to_dtype, DType

c_void_p, c_int, c_int64, c_uint64, c_size_t, c_double, c_char_p = (
    ctypes.c_void_p, ctypes.c_int, ctypes.c_int64, ctypes.c_uint64, ctypes.c_size_t,
    ctypes.c_double, ctypes.c_char_p)
declare = _lib.declare
P = ctypes.POINTER
PD = P(c_double)


class ModelKind(enum.IntEnum):
    QUADRATIC = 1
    MLP = 2
    GPT = 3
    CNN = 4


class ModelKey(enum.IntEnum):
    DTYPE = 1
    BATCH = 2
    VOCAB = 10
    CONTEXT = 11
    WIDTH = 12
    HEADS = 13
    LAYERS = 14
    INPUTS = 20
    CLASSES = 21
    ACTIVATION = 22
    IMAGE_SIZE = 30
    CHANNELS = 31
    CONV_WIDTH = 32
    CONV_STAGES = 33
    POOL = 34
    QUAD_BLOCKS = 40
    QUAD_BLOCK_SIZE = 41
    QUAD_FAMILY = 42
    QUAD_COND = 43


class Activation(enum.IntEnum):
    RELU = 1
    GELU = 2        # tanh form, as GPT-2
    GELU_ERF = 3    # exact x·Φ(x); Net only
    SILU = 4        # Net only
    TANH = 5        # Net only


class QuadraticFamily(enum.IntEnum):
    HETEROGENEOUS = 1
    HOMOGENEOUS = 2


_REAL_KEYS = {ModelKey.QUAD_COND}
# enum-valued keys accept names
_KEY_ENUMS = {ModelKey.ACTIVATION: Activation, ModelKey.QUAD_FAMILY: QuadraticFamily}

LOSS_GRAD_FN = ctypes.CFUNCTYPE(c_int, c_void_p, PD, c_size_t, PD, PD)
HVP_FN = ctypes.CFUNCTYPE(c_int, c_void_p, PD, c_size_t, PD, PD)
# hb_model_callbacks (model.h): vectors of the callbacks' dtype, passed as void pointers
CB_LOSS_GRAD_FN = ctypes.CFUNCTYPE(c_int, c_void_p, c_void_p, c_size_t, PD, c_void_p)
CB_HVP_FN = ctypes.CFUNCTYPE(c_int, c_void_p, c_void_p, c_size_t, c_void_p, c_void_p)
CB_HVP_MULTI_FN = ctypes.CFUNCTYPE(c_int, c_void_p, c_void_p, c_size_t, c_size_t, c_void_p,
                                   c_void_p)
CB_BLOCK_HVP_FN = ctypes.CFUNCTYPE(c_int, c_void_p, c_void_p, c_size_t, c_size_t, c_size_t,
                                   c_size_t, c_void_p, c_void_p)
CB_ACCURACY_FN = ctypes.CFUNCTYPE(c_int, c_void_p, c_void_p, c_size_t, P(c_size_t),
                                  P(c_size_t))
CB_DESTROY_FN = ctypes.CFUNCTYPE(None, c_void_p)


class _Callbacks(ctypes.Structure):
    """hb_model_callbacks, field for field (model.h)."""
    _fields_ = [("struct_size", c_size_t), ("dtype", c_int), ("user", c_void_p),
                ("loss_grad", CB_LOSS_GRAD_FN), ("hvp", CB_HVP_FN),
                ("hvp_multi", CB_HVP_MULTI_FN), ("block_hvp", CB_BLOCK_HVP_FN),
                ("accuracy", CB_ACCURACY_FN), ("destroy", CB_DESTROY_FN),
                ("fd_step", c_double)]

_cfg_create = declare("hb_model_config_create", c_int, [c_void_p, c_int, P(c_void_p)])
_cfg_free = declare("hb_model_config_free", None, [c_void_p])
_cfg_set_i64 = declare("hb_model_config_set_i64", c_int, [c_void_p, c_int, c_int64])
_cfg_set_f64 = declare("hb_model_config_set_f64", c_int, [c_void_p, c_int, c_double])
_cfg_get_i64 = declare("hb_model_config_get_i64", c_int, [c_void_p, c_int, P(c_int64)])
_cfg_get_f64 = declare("hb_model_config_get_f64", c_int, [c_void_p, c_int, P(c_double)])
_create = declare("hb_model_create", c_int, [c_void_p, c_void_p, P(c_void_p)])
_free = declare("hb_model_free", None, [c_void_p])
_params = declare("hb_model_params", c_void_p, [c_void_p])
_context = declare("hb_model_context", c_void_p, [c_void_p])
_kind_of = declare("hb_model_kind_of", c_int, [c_void_p])
_name = declare("hb_model_name", c_char_p, [c_void_p])
_has_exact = declare("hb_model_has_exact_hvp", c_int, [c_void_p])
_set_batch = declare("hb_model_set_batch", c_int, [c_void_p, c_void_p, c_void_p])
_add_batch = declare("hb_model_add_batch", c_int, [c_void_p, c_void_p, c_void_p])
_num_batches = declare("hb_model_num_batches", c_size_t, [c_void_p])
_num_samples = declare("hb_model_num_samples", c_size_t, [c_void_p])
_set_text = declare("hb_model_set_text", c_int, [c_void_p, c_char_p, c_size_t, c_uint64])
_set_images = declare("hb_model_set_images", c_int, [c_void_p, c_void_p, c_void_p, c_size_t, c_uint64])
_set_images_norm = declare("hb_model_set_images_normalized", c_int,
                           [c_void_p, c_void_p, c_void_p, c_size_t, c_uint64, c_double, c_double])
_set_synthetic = declare("hb_model_set_synthetic", c_int, [c_void_p, c_size_t, c_uint64, c_uint64])
_set_data_parallel = declare("hb_model_set_data_parallel", c_int, [c_void_p, c_int])
_loss = declare("hb_model_loss", c_int, [c_void_p, PD])
_loss_grad = declare("hb_model_loss_grad", c_int, [c_void_p, PD])
_accuracy = declare("hb_model_accuracy", c_int, [c_void_p, PD])
_hvp = declare("hb_model_hvp", c_int, [c_void_p, c_void_p, c_void_p])
_hvp_multi = declare("hb_model_hvp_multi", c_int, [c_void_p, c_void_p, c_void_p])
_block_hvp = declare("hb_model_block_hvp", c_int, [c_void_p, c_size_t, c_void_p, c_void_p])
_create_quadratic = declare("hb_model_create_quadratic", c_int,
                            [c_void_p, c_int, c_size_t, P(c_size_t), P(PD), P(PD), PD, P(c_void_p)])
_quad_eigs = declare("hb_model_quadratic_eigenvalues", c_int, [c_void_p, c_size_t, PD, c_size_t])
_quad_matrix = declare("hb_model_quadratic_matrix", c_int, [c_void_p, c_size_t, PD, c_size_t])
# Reading micro-batches back (Model.batch); imports kept here, next to their only use.
from .errors import RangeError as _RangeError  # noqa: E402
from .tensor import NUMPY as _NUMPY  # noqa: E402


class BatchPart(enum.IntEnum):
    """hb_batch_part: which half of a micro-batch hb_model_batch_shape/_copy read."""
    INPUTS = 1
    TARGETS = 2


_batch_shape = declare("hb_model_batch_shape", c_int,
                       [c_void_p, c_size_t, c_int, P(c_int), P(c_int), P(c_int64)])
_batch_copy = declare("hb_model_batch_copy", c_int, [c_void_p, c_size_t, c_int, c_void_p, c_size_t])
_create_callbacks = declare("hb_model_create_callbacks", c_int,
                            [c_void_p, c_void_p, LOSS_GRAD_FN, HVP_FN, c_void_p, P(c_void_p)])
_create_callbacks_ex = declare("hb_model_create_callbacks_ex", c_int,
                               [c_void_p, c_void_p, P(_Callbacks), P(c_void_p)])


def _key(key):
    return to_enum(ModelKey, key, "model config key")


class ModelConfig(Handle):
    """hb_model_config: the enum-keyed options of one built-in model kind.

    ModelConfig(ctx, 'mlp', width=64, layers=2) or cfg['width'] = 64; keys are ModelKey
    members or their lowercase names; dtype and enum-valued keys accept names."""

    def __init__(self, ctx, kind, **options):
        ctx_ptr = require(ctx, Context, "ctx")
        out = c_void_p()
        ctx._check(_cfg_create(ctx_ptr, int(to_enum(ModelKind, kind, "model kind")),
                               ctypes.byref(out)))
        self._ctx = ctx
        self.kind = to_enum(ModelKind, kind, "model kind")
        self._init_handle(out.value, _cfg_free, ctx)
        for k, v in options.items():
            self[k] = v

    def __setitem__(self, key, value):
        key = _key(key)
        if key in _REAL_KEYS:
            self._ctx._check(_cfg_set_f64(self._ptr, key, float(value)))
            return
        if key == ModelKey.DTYPE:
            value = to_dtype(value)
        elif key in _KEY_ENUMS:
            value = to_enum(_KEY_ENUMS[key], value, key.name.lower())
        self._ctx._check(_cfg_set_i64(self._ptr, key, int(value)))

    def __getitem__(self, key):
        key = _key(key)
        if key in _REAL_KEYS:
            v = c_double()
            self._ctx._check(_cfg_get_f64(self._ptr, key, ctypes.byref(v)))
            return v.value
        v = c_int64()
        self._ctx._check(_cfg_get_i64(self._ptr, key, ctypes.byref(v)))
        if key == ModelKey.DTYPE:
            return DType(v.value)
        if key in _KEY_ENUMS:
            return _KEY_ENUMS[key](v.value)
        return v.value

    def set_i64(self, key, value):
        """hb_model_config_set_i64 (raw)."""
        self._ctx._check(_cfg_set_i64(self._ptr, _key(key), int(value)))

    def set_f64(self, key, value):
        """hb_model_config_set_f64 (raw)."""
        self._ctx._check(_cfg_set_f64(self._ptr, _key(key), float(value)))

    def get_i64(self, key):
        v = c_int64()
        self._ctx._check(_cfg_get_i64(self._ptr, _key(key), ctypes.byref(v)))
        return v.value

    def get_f64(self, key):
        v = c_double()
        self._ctx._check(_cfg_get_f64(self._ptr, _key(key), ctypes.byref(v)))
        return v.value


class _Objective:
    """ctypes trampolines for a Python objective (hb_model_callbacks). The callables see
    numpy views of the C arrays in the callbacks' dtype (float64 or float32): theta and
    the directions read-only, valid during the call; they return arrays (converted to
    that dtype and copied into C's buffers)."""

    def __init__(self, dtype, loss_grad, hvp=None, hvp_multi=None, block_hvp=None,
                 accuracy=None):
        self.np_dtype = np.dtype(np.float64 if dtype == DType.F64 else np.float32)
        self.fn = {"loss_grad": loss_grad, "hvp": hvp, "hvp_multi": hvp_multi,
                   "block_hvp": block_hvp, "accuracy": accuracy}
        self.res = None   # the model's resource, set once the model exists
        self.calls = {name: 0 for name in self.fn}
        # the CFUNCTYPE objects live as long as the model (Handle keep=)
        self.c_fns = {
            "loss_grad": CB_LOSS_GRAD_FN(self._loss_grad),
            "hvp": CB_HVP_FN(self._hvp) if hvp is not None else CB_HVP_FN(),
            "hvp_multi": CB_HVP_MULTI_FN(self._hvp_multi) if hvp_multi is not None
            else CB_HVP_MULTI_FN(),
            "block_hvp": CB_BLOCK_HVP_FN(self._block_hvp) if block_hvp is not None
            else CB_BLOCK_HVP_FN(),
            "accuracy": CB_ACCURACY_FN(self._accuracy) if accuracy is not None
            else CB_ACCURACY_FN(),
        }

    def struct(self, fd_step):
        c = _Callbacks(struct_size=ctypes.sizeof(_Callbacks),
                       dtype=int(DType.F64 if self.np_dtype == np.float64 else DType.F32),
                       user=None, fd_step=fd_step, destroy=CB_DESTROY_FN())
        for name, fn in self.c_fns.items():
            setattr(c, name, fn)
        return c

    def _in(self, ptr, shape):
        # Read-only view; it pins the model, so a view kept by the user stays valid memory.
        return view(self.res, ptr, shape, self.np_dtype, readonly=True)

    def _out(self, ptr, shape, value, what):
        arr = np.asarray(value, dtype=self.np_dtype)
        if arr.shape != shape:
            arr = arr.reshape(shape) if arr.size == int(np.prod(shape)) else None
        if arr is None:
            raise ShapeError("%s returned shape %s, expected %s" % (what, np.shape(value), shape), -3)
        ctypes.memmove(ptr, np.ascontiguousarray(arr).ctypes.data, arr.nbytes)

    def _call(self, name, body):
        try:
            self.calls[name] += 1
            body()
            return 0
        except BaseException as e:  # must never unwind into C
            store_exception(e)
            return 1

    def _loss_grad(self, user, theta, n, loss, grad):
        def body():
            value, g = self.fn["loss_grad"](self._in(theta, (n,)))
            self._out(grad, (n,), g, "loss_grad's gradient")
            loss[0] = float(value)
        return self._call("loss_grad", body)

    def _hvp(self, user, theta, n, v, out):
        return self._call("hvp", lambda: self._out(
            out, (n,), self.fn["hvp"](self._in(theta, (n,)), self._in(v, (n,))), "hvp"))

    def _hvp_multi(self, user, theta, n, k, V, OUT):
        return self._call("hvp_multi", lambda: self._out(
            OUT, (k, n), self.fn["hvp_multi"](self._in(theta, (n,)), self._in(V, (k, n))),
            "hvp_multi"))

    def _block_hvp(self, user, theta, n, block, length, k, V, OUT):
        return self._call("block_hvp", lambda: self._out(
            OUT, (k, length),
            self.fn["block_hvp"](self._in(theta, (n,)), int(block), self._in(V, (k, length))),
            "block_hvp"))

    def _accuracy(self, user, theta, n, correct, total):
        def body():
            c, t = self.fn["accuracy"](self._in(theta, (n,)))
            for x in (c, t):
                if isinstance(x, bool) or not isinstance(x, (int, np.integer)) or x < 0:
                    raise InvalidArgument("accuracy must return (correct, total), two ints "
                                          ">= 0, got %r" % ((c, t),), -1)
            correct[0], total[0] = int(c), int(t)
        return self._call("accuracy", body)


class Model(Handle):
    """hb_model: an objective over a flat parameter vector with exact gradients and
    Hessian-vector products.

    Built-in:  Model(ctx, 'quadratic', quad_blocks=4)  or  Model(ctx, config)
    Python:    Model.from_callbacks(ctx, params, loss_grad, hvp=None)

    Vectors in and out are numpy arrays in the flat layout of `params`; results are
    written into `out=` (zero-copy) when given, else into new arrays.
    """

    def __init__(self, ctx, config, **options):
        ctx_ptr = require(ctx, Context, "ctx")
        own_cfg = not isinstance(config, ModelConfig)
        cfg = ModelConfig(ctx, config, **options) if own_cfg else config
        if not own_cfg:
            for k, v in options.items():
                cfg[k] = v
        try:
            out = c_void_p()
            ctx._check(_create(ctx_ptr, require(cfg, ModelConfig, "config"), ctypes.byref(out)))
        finally:
            if own_cfg:
                cfg.close()
        self._setup(ctx, out.value, None)

    @staticmethod
    def _free_fn():
        return _free

    def _setup(self, ctx, ptr, objective):
        self._ctx = ctx
        self._objective = objective
        self._params = None
        self._init_handle(ptr, _free, ctx, keep=objective)
        assert _context(ptr) == ctx._ptr
        if objective is not None:
            objective.res = self._res

    @classmethod
    def from_callbacks(cls, ctx, params, loss_grad, hvp=None, hvp_multi=None, block_hvp=None,
                       accuracy=None, dtype=None, fd_step=0.0):
        """hb_model_create_callbacks_ex: a model whose objective Python computes.

        params: a finalised Params (the model takes it over: it becomes model.params and is
        freed with the model), or a list of (name, shape) / (name, shape, kind) to build one
        (of `dtype`, default float64).
        dtype: of the arrays the callables see and return, 'f64' or 'f32'; default the
        params' compute dtype (f64 params: f64; f32 and bf16 params: f32). It must be that.
        loss_grad(theta) -> (loss, grad)            required
        hvp(theta, v) -> H·v                        optional, one direction (n,)
        hvp_multi(theta, V) -> H·V                  optional, V of shape (k, n), rows
        block_hvp(theta, b, V_b) -> H_bb·V_b        optional, block index b, V_b (k, numel(b))
        accuracy(theta) -> (correct, total)         optional, for Model.accuracy()
        Missing products are built from the given ones (hvp_multi from hvp, block_hvp from
        the full product of the zero-padded directions); with neither hvp nor hvp_multi,
        H·v is a central difference of gradients with the relative step fd_step (0: the
        default ∛u, u the dtype's machine epsilon; docs/api.md "Finite-difference step")
        and has_exact_hvp is False. Exceptions raised by a callable are re-raised from the
        calling method."""
        ctx_ptr = require(ctx, Context, "ctx")
        if not callable(loss_grad):
            raise type_error("loss_grad", "a callable", loss_grad)
        for fn, name in ((hvp, "hvp"), (hvp_multi, "hvp_multi"), (block_hvp, "block_hvp"),
                         (accuracy, "accuracy")):
            _callable_or_none(fn, name)
        if isinstance(fd_step, bool) or not isinstance(fd_step, (int, float, np.integer,
                                                                 np.floating)):
            raise type_error("fd_step", "a number >= 0", fd_step)
        fd_step = float(fd_step)
        if dtype is not None:
            dtype = to_dtype(dtype)
            if dtype not in (DType.F32, DType.F64):
                raise DtypeError("callbacks see f32 or f64 arrays, dtype %s asked for"
                                 % getattr(dtype, "name", dtype), -4)
        if isinstance(params, Handle) and not isinstance(params, Params):
            raise type_error("params", "a hessblock.Params or a list of (name, shape[, kind])",
                             params)
        if not isinstance(params, Params):
            spec, params = params, Params(ctx, dtype if dtype is not None else "f64")
            for item in spec:
                params.add_block(*item)
            params.finalize()
        if params.context is not ctx:
            raise InvalidArgument("params belong to another context", -1)
        if params._res is None or params._res.closed:
            params._ptr  # raises ClosedError
        if params._res.free_fn is None:
            # borrowed (a model's own params): the C call would take over memory that
            # another model frees -- a double free. Refuse.
            raise InvalidArgument("these params belong to a model; build a new Params", -1)
        if dtype is None:
            dtype = DType.F64 if params.dtype == DType.F64 else DType.F32
        obj = _Objective(dtype, loss_grad, hvp, hvp_multi, block_hvp, accuracy)
        cbs = obj.struct(fd_step)
        out = c_void_p()
        ctx._check(_create_callbacks_ex(ctx_ptr, params._ptr, ctypes.byref(cbs),
                                        ctypes.byref(out)))
        m = object.__new__(cls)
        m._setup(ctx, out.value, obj)
        # The C model owns the params now: hand the Python handle over (no free of its
        # own, pinned by the model so views of it keep the model's memory alive).
        res = params._res
        res.free_fn = None
        old_parent, res.parent = res.parent, m._res
        m._res.pin()
        old_parent.unpin()
        params._parent = m
        ctx._children.discard(params)
        m._children.add(params)
        m._params = params
        return m

    @classmethod
    def quadratic(cls, ctx, eigenvalues=None, dense=None, h=None, dtype="f64"):
        """hb_model_create_quadratic: L(θ) = ½θᵀHθ − hᵀθ with block-diagonal H, block b
        given by EXACTLY ONE of eigenvalues[b] (H_b = Q·diag(λ)·Qᵀ, Q random orthogonal
        from the context's RNG) or dense[b] (a symmetric matrix). Either list may be None
        as a whole; entries may be None where the other list gives the block. Blocks are
        named "block.0", "block.1", ...; θ starts at 0."""
        ctx_ptr = require(ctx, Context, "ctx")
        eig = list(eigenvalues) if eigenvalues is not None else None
        den = list(dense) if dense is not None else None
        B = len(eig) if eig is not None else (len(den) if den is not None else 0)
        if B == 0 or (eig is not None and den is not None and len(eig) != len(den)):
            raise InvalidArgument("give one entry per block in eigenvalues and/or dense", -1)
        keep, sizes = [], []
        eig_ptrs = (PD * B)() if eig is not None else None
        den_ptrs = (PD * B)() if den is not None else None
        for b in range(B):
            size = None
            if eig is not None and eig[b] is not None:
                a = np.ascontiguousarray(eig[b], dtype=np.float64).reshape(-1)
                keep.append(a)
                eig_ptrs[b] = a.ctypes.data_as(PD)
                size = a.size
            if den is not None and den[b] is not None:
                a = np.ascontiguousarray(den[b], dtype=np.float64)
                if a.ndim != 2 or a.shape[0] != a.shape[1]:
                    raise ShapeError("dense block %d must be square, got %s" % (b, a.shape), -3)
                keep.append(a)
                den_ptrs[b] = a.ctypes.data_as(PD)
                size = a.shape[0] if size is None else size
            sizes.append(size or 0)
        hp = None
        if h is not None:
            h = np.ascontiguousarray(h, dtype=np.float64)
            if h.size != sum(sizes):
                raise ShapeError("h has %d entries, the blocks hold %d" % (h.size, sum(sizes)), -3)
            hp = h.ctypes.data_as(PD)
        out = c_void_p()
        ctx._check(_create_quadratic(ctx_ptr, int(to_dtype(dtype)), B, (c_size_t * B)(*sizes),
                                     eig_ptrs, den_ptrs, hp, ctypes.byref(out)))
        m = object.__new__(cls)
        m._setup(ctx, out.value, None)
        return m

    def quadratic_eigenvalues(self, block):
        """hb_model_quadratic_eigenvalues: exact eigenvalues of H_b, ascending."""
        b = self.params.block_info(block)
        out = np.zeros(b.numel)
        self._check(_quad_eigs(self._ptr, b.index, out.ctypes.data_as(PD), b.numel))
        return out

    def quadratic_matrix(self, block):
        """hb_model_quadratic_matrix: the f64 matrix H_b the model uses."""
        b = self.params.block_info(block)
        out = np.zeros((b.numel, b.numel))
        self._check(_quad_matrix(self._ptr, b.index, out.ctypes.data_as(PD), out.size))
        return out

    def _check(self, status):
        return self._ctx._check(status)

    # ---- queries
    @property
    def context(self):
        return self._ctx

    @property
    def params(self):
        """The model's Params (borrowed: freed with the model)."""
        p = self._params
        if p is None or p.closed:
            ptr = _params(self._ptr)
            p = self._params = Params._borrow(self, self._ctx, ptr)
        return p

    @property
    def kind(self):
        """ModelKind, or None for a Python (callback) model."""
        k = _kind_of(self._ptr)
        return ModelKind(k) if k else None

    @property
    def name(self):
        return _name(self._ptr).decode()

    @property
    def has_exact_hvp(self):
        return bool(_has_exact(self._ptr))

    @property
    def num_batches(self):
        return int(_num_batches(self._ptr))

    @property
    def num_samples(self):
        return int(_num_samples(self._ptr))

    @property
    def n(self):
        """Flat parameter count."""
        return self.params.count

    # ---- data
    def _batch(self, fn, inputs, targets):
        ctx = self._ctx
        ti = tt = None
        try:
            ti = inputs if isinstance(inputs, Tensor) else Tensor.wrap(ctx, check_array(inputs, "inputs"))
            tt = targets if isinstance(targets, Tensor) else Tensor.wrap(ctx, check_array(targets, "targets"))
            self._check(fn(self._ptr, ti._ptr, tt._ptr))
        finally:
            for t, src in ((ti, inputs), (tt, targets)):
                if t is not None and t is not src:
                    t.close()

    def set_batch(self, inputs, targets):
        """hb_model_set_batch: replace the data by one micro-batch (numpy arrays or
        Tensors; the library copies them)."""
        self._batch(_set_batch, inputs, targets)

    def add_batch(self, inputs, targets):
        """hb_model_add_batch: append a micro-batch."""
        self._batch(_add_batch, inputs, targets)

    def set_synthetic(self, n_batches=1, stream=0, first=0):
        """hb_model_set_synthetic: the built-in synthetic data."""
        self._check(_set_synthetic(self._ptr, int(n_batches), int(stream), int(first)))

    def set_data_parallel(self, on=True):
        """hb_model_set_data_parallel: this model's data are this rank's shard; with a
        communicator of size > 1 on its context, loss, gradient, accuracy and products sum
        over the ranks (docs/scale-out.md, "Data across ranks")."""
        self._check(_set_data_parallel(self._ptr, 1 if on else 0))

    def set_text(self, path, n_batches=1, first=0):
        """hb_model_set_text (gpt): byte-level micro-batches from a text file; sample s is
        the window of context + 1 bytes at byte (s·context) mod (length − context)."""
        self._check(_set_text(self._ptr, os.fsencode(path), int(n_batches), int(first)))

    def set_images(self, images, labels, n_batches=1, first=0, mean=None, std=None):
        """hb_model_set_images (mlp, cnn): micro-batches of (N, H, W) images (pixels 0..255,
        int32/float32/float64) and int32 labels; sample s is image s mod N. Pixels become
        (x/255 − mean)/std: by default the mean and std of these images, else the given
        ones (hb_model_set_images_normalized; use the training set's for held-out data)."""
        ctx = self._ctx
        ti = tl = None
        try:
            ti = images if isinstance(images, Tensor) else Tensor.wrap(ctx, check_array(images, "images"))
            tl = labels if isinstance(labels, Tensor) else Tensor.wrap(ctx, check_array(labels, "labels"))
            if mean is None and std is None:
                self._check(_set_images(self._ptr, ti._ptr, tl._ptr, int(n_batches), int(first)))
            elif mean is None or std is None:
                raise InvalidArgument("give both mean and std, or neither", -1)
            else:
                self._check(_set_images_norm(self._ptr, ti._ptr, tl._ptr, int(n_batches), int(first),
                                             float(mean), float(std)))
        finally:
            for t, src in ((ti, images), (tl, labels)):
                if t is not None and t is not src:
                    t.close()
    def set_corpus(self, corpus, split="train", n_batches=1, first=0):
        """hb_model_set_corpus (gpt): micro-batches of windows of one split ('train' or
        'valid') of a TextCorpus, sampled as set_text samples a file. The model's vocab
        must be at least corpus.vocab_size (RangeError otherwise)."""
        c = require(corpus, TextCorpus, "corpus")
        self._check(_set_corpus(self._ptr, c, int(to_enum(TextSplit, split, "text split")),
                                int(n_batches), int(first)))

    # ---- evaluation
    def loss(self):
        """hb_model_loss: L(θ) over the current data."""
        v = c_double()
        self._check(_loss(self._ptr, ctypes.byref(v)))
        return v.value

    def loss_grad(self):
        """hb_model_loss_grad: (loss, grad) with grad the params' gradient buffer as a
        zero-copy view (overwritten by the next call)."""
        v = c_double()
        self._check(_loss_grad(self._ptr, ctypes.byref(v)))
        return v.value, self.params.grad

    def accuracy(self):
        """hb_model_accuracy."""
        v = c_double()
        self._check(_accuracy(self._ptr, ctypes.byref(v)))
        return v.value

    def _vec_call(self, fn, args, v, out, length):
        ctx = self._ctx
        check_array(v, "v", (np.float32, np.float64))
        if out is None:
            out = np.empty(v.shape, dtype=v.dtype)
        else:
            check_array(out, "out", (np.float32, np.float64), writeable=True)
        with Tensor.wrap(ctx, v) as tv, Tensor.wrap(ctx, out) as to:
            self._check(fn(self._ptr, *args, tv._ptr, to._ptr))
        return out

    def hvp(self, v, out=None):
        """hb_model_hvp: H·v for a flat vector v (float32/float64, length n)."""
        return self._vec_call(_hvp, (), v, out, self.n)

    def hvp_multi(self, V, out=None):
        """hb_model_hvp_multi: H·V for V of shape (k, n), one direction per row."""
        return self._vec_call(_hvp_multi, (), V, out, self.n)

    def block_hvp(self, block, v, out=None):
        """hb_model_block_hvp: H_bb·v_b for block b (index or name); v_b has numel(b)
        elements (any shape), or shape (k, numel(b))."""
        return self._vec_call(_block_hvp, (self.params.index(block),), v, out, None)

    def hessian(self, block=None):
        """Dense Hessian (or a block's principal sub-block) from H·e_i, through
        hvp_multi. O(n) products: for small models and tests."""
        if block is None:
            n = self.n
            return self.hvp_multi(np.eye(n))
        b = self.params.block_info(block)
        return self.block_hvp(b.index, np.eye(b.numel))

    # ---- reading the data back (hb_model_batch_shape / hb_model_batch_copy)
    def _batch_part(self, i, part):
        dt, nd = c_int(), c_int()
        shape = (c_int64 * 4)()
        self._check(_batch_shape(self._ptr, i, part, ctypes.byref(dt), ctypes.byref(nd), shape))
        out = np.empty(tuple(shape[:nd.value]), dtype=_NUMPY[DType(dt.value)])
        self._check(_batch_copy(self._ptr, i, part, out.ctypes.data_as(c_void_p), out.nbytes))
        return out

    def batch(self, i):
        """Micro-batch i (0 <= i < num_batches) as (inputs, targets), numpy copies in the
        library's dtypes: gpt (N, T) int32 token ids and next tokens; mlp (N, inputs) and
        cnn (N, channels, S, S) float32/float64 features with (N,) int32 classes.
        Raises RangeError for i out of range (a quadratic model holds no batch)."""
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)):
            raise InvalidArgument("batch index must be an int, got %s" % type(i).__name__, -1)
        if i < 0:
            raise _RangeError("batch index %d is negative" % i, -11)
        return (self._batch_part(int(i), BatchPart.INPUTS),
                self._batch_part(int(i), BatchPart.TARGETS))

    def __repr__(self):
        if self.closed:
            return "<hessblock.Model closed>"
        return "<hessblock.Model %s n=%d>" % (self.name, self.n)


# ---- Text corpora (hessblock/text.h) ------------------------------------------------------
class TextSplit(enum.IntEnum):
    """hb_text_split: the last tenth of every source validates, the rest trains."""
    TRAIN = 1
    VALID = 2


_corpus_create = declare("hb_text_corpus_create", c_int,
                         [c_void_p, c_size_t, P(c_char_p), P(c_void_p)])
_corpus_create_buffers = declare("hb_text_corpus_create_buffers", c_int,
                                 [c_void_p, c_size_t, P(c_void_p), P(c_size_t), P(c_void_p)])
_corpus_free = declare("hb_text_corpus_free", None, [c_void_p])
_corpus_vocab = declare("hb_text_corpus_vocab_size", c_size_t, [c_void_p])
_corpus_token_byte = declare("hb_text_corpus_token_byte", c_int, [c_void_p, c_size_t])
_corpus_byte_token = declare("hb_text_corpus_byte_token", c_int, [c_void_p, ctypes.c_uint])
_corpus_num_tokens = declare("hb_text_corpus_num_tokens", c_size_t, [c_void_p, c_int])
_corpus_copy = declare("hb_text_corpus_copy_tokens", c_int,
                       [c_void_p, c_int, c_size_t, c_size_t, P(ctypes.c_int32)])
_set_corpus = declare("hb_model_set_corpus", c_int, [c_void_p, c_void_p, c_int, c_size_t, c_uint64])


class TextCorpus(Handle):
    """hb_text_corpus: a character-level corpus (docs/data.md, "Text"). The vocabulary is
    the sorted set of distinct bytes; token i is byte vocabulary[i].

    TextCorpus(ctx, [path, ...]) reads files in the order given;
    TextCorpus.from_buffers(ctx, [b"...", ...]) takes bytes-like sources."""

    def __init__(self, ctx, paths):
        ctx_ptr = require(ctx, Context, "ctx")
        if isinstance(paths, (str, bytes, os.PathLike)) or not hasattr(paths, "__len__"):
            raise type_error("paths", "a list of paths", paths)
        enc = [os.fsencode(p) for p in paths]
        arr = (c_char_p * max(1, len(enc)))(*enc)
        out = c_void_p()
        ctx._check(_corpus_create(ctx_ptr, len(enc), arr, ctypes.byref(out)))
        self._ctx = ctx
        self._init_handle(out.value, _corpus_free, ctx)

    @classmethod
    def from_buffers(cls, ctx, sources):
        """hb_text_corpus_create_buffers: sources is a list of bytes-like objects."""
        ctx_ptr = require(ctx, Context, "ctx")
        if isinstance(sources, (str, bytes)) or not hasattr(sources, "__len__"):
            raise type_error("sources", "a list of bytes objects", sources)
        bufs = [bytes(memoryview(s)) for s in sources]
        n = max(1, len(bufs))
        ptrs = (c_void_p * n)(*[ctypes.cast(ctypes.c_char_p(b), c_void_p) for b in bufs])
        sizes = (c_size_t * n)(*[len(b) for b in bufs])
        out = c_void_p()
        ctx._check(_corpus_create_buffers(ctx_ptr, len(bufs), ptrs, sizes, ctypes.byref(out)))
        self = cls.__new__(cls)
        self._ctx = ctx
        self._init_handle(out.value, _corpus_free, ctx)
        return self

    @property
    def vocab_size(self):
        """hb_text_corpus_vocab_size: V, the number of distinct bytes."""
        return _corpus_vocab(self._ptr)

    @property
    def vocabulary(self):
        """The V bytes of the vocabulary in token order (increasing)."""
        return bytes(_corpus_token_byte(self._ptr, i) for i in range(self.vocab_size))

    def token_byte(self, token):
        """hb_text_corpus_token_byte: the byte of a token id, or -1."""
        t = int(token)
        return _corpus_token_byte(self._ptr, t) if t >= 0 else -1

    def byte_token(self, byte):
        """hb_text_corpus_byte_token: the token id of a byte, or -1."""
        b = int(byte)
        return _corpus_byte_token(self._ptr, b) if 0 <= b <= 255 else -1

    def num_tokens(self, split):
        """hb_text_corpus_num_tokens: tokens in one split ('train' or 'valid')."""
        return _corpus_num_tokens(self._ptr, int(to_enum(TextSplit, split, "text split")))

    def tokens(self, split, offset=0, n=None):
        """hb_text_corpus_copy_tokens: n tokens (default: to the end) of one split from
        offset, as an int32 numpy array of token ids."""
        sp = int(to_enum(TextSplit, split, "text split"))
        offset = int(offset)
        if offset < 0:
            raise _RangeError("offset %d is negative" % offset, -11)
        if n is None:
            n = max(0, _corpus_num_tokens(self._ptr, sp) - offset)
        n = int(n)
        if n < 0:
            raise _RangeError("n %d is negative" % n, -11)
        out = np.empty(n, dtype=np.int32)
        self._ctx._check(_corpus_copy(self._ptr, sp, offset, n,
                                      out.ctypes.data_as(P(ctypes.c_int32))))
        return out

    def __repr__(self):
        if self.closed:
            return "<hessblock.TextCorpus closed>"
        return "<hessblock.TextCorpus V=%d train=%d valid=%d>" % (
            self.vocab_size, self.num_tokens("train"), self.num_tokens("valid"))
