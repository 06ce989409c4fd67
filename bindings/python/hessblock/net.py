"""Networks (include/hessblock/net.h): build your own model with exact Hessian-vector
products.

    net = hb.Net(ctx, "f64")
    net.input_features("x", (32,))
    net.linear("fc1", "x", "h", 64).activation("relu", "h", "a")
    net.linear("head", "a", "logits", 10, kind="head").loss_xent("logits")
    model = net.model()            # an ordinary hb.Model: set_batch, hvp, SLQ, ...

Every method mirrors one hb_net_* function (same arguments, same checks: a bad op raises
the library's error, e.g. ShapeError naming the op and both shapes, and leaves the net
unchanged) and returns the net, so definitions chain. A net is a definition: model() may
be called any number of times, each model initialised afresh from the context's RNG.
"""
import ctypes

from . import _lib
from ._handle import Handle, require, type_error
from .core import Context, to_enum
from .errors import Unsupported
from .model import Activation, Model
from .params import BlockKind, Init
from .tensor import to_dtype

import enum

c_void_p, c_int, c_int64, c_size_t, c_double, c_char_p = (
    ctypes.c_void_p, ctypes.c_int, ctypes.c_int64, ctypes.c_size_t, ctypes.c_double,
    ctypes.c_char_p)
P = ctypes.POINTER
opt = _lib.declare_optional


class Pool(enum.IntEnum):
    """hb_net_pool: the pooling kinds of Net.pool2d."""
    AVG = 1
    MAX = 2


_create = opt("hb_net_create", c_int, [c_void_p, c_int, P(c_void_p)])
_free = opt("hb_net_free", None, [c_void_p])
_in_tokens = opt("hb_net_input_tokens", c_int, [c_void_p, c_char_p, c_int64, c_int64])
_in_features = opt("hb_net_input_features", c_int, [c_void_p, c_char_p, c_int, P(c_int64)])
_embedding = opt("hb_net_embedding", c_int, [c_void_p, c_char_p, c_char_p, c_char_p, c_int64])
_pos_embedding = opt("hb_net_pos_embedding", c_int, [c_void_p, c_char_p, c_char_p, c_char_p])
_linear = opt("hb_net_linear", c_int,
              [c_void_p, c_char_p, c_char_p, c_char_p, c_int64, c_int, c_int])
_layernorm = opt("hb_net_layernorm", c_int, [c_void_p, c_char_p, c_char_p, c_char_p, c_double])
_rmsnorm = opt("hb_net_rmsnorm", c_int, [c_void_p, c_char_p, c_char_p, c_char_p, c_double])
_attention = opt("hb_net_attention", c_int,
                 [c_void_p, c_char_p, c_char_p, c_char_p, c_int64, c_int])
_activation = opt("hb_net_activation", c_int, [c_void_p, c_int, c_char_p, c_char_p])
_conv2d = opt("hb_net_conv2d", c_int,
              [c_void_p, c_char_p, c_char_p, c_char_p, c_int64, c_int64, c_int64, c_int])
_pool2d = opt("hb_net_pool2d", c_int, [c_void_p, c_int, c_char_p, c_char_p, c_int64])
_flatten = opt("hb_net_flatten", c_int, [c_void_p, c_char_p, c_char_p])
_add = opt("hb_net_add", c_int, [c_void_p, c_char_p, c_char_p, c_char_p])
_loss_xent = opt("hb_net_loss_xent", c_int, [c_void_p, c_char_p])
_loss_mse = opt("hb_net_loss_mse", c_int, [c_void_p, c_char_p])
_rename = opt("hb_net_rename_block", c_int, [c_void_p, c_char_p, c_char_p])
_set_kind = opt("hb_net_set_block_kind", c_int, [c_void_p, c_char_p, c_int])
_set_init = opt("hb_net_set_init", c_int, [c_void_p, c_char_p, c_int, c_double, c_double])
_op_count = opt("hb_net_op_count", c_size_t, [c_void_p])
_act_shape = opt("hb_net_activation_shape", c_int, [c_void_p, c_char_p, P(c_int), P(c_int64)])
_model_create = opt("hb_model_create_net", c_int, [c_void_p, P(c_void_p)])

AVAILABLE = _create is not None


def _name(value, what):
    """An activation or block name: str (encoded UTF-8) or bytes; anything else is a
    TypeError here, never a crash in C."""
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, bytes):
        return value
    raise type_error(what, "a str name", value)


def _int(value, what):
    if isinstance(value, bool) or not hasattr(value, "__index__"):
        raise type_error(what, "an integer", value)
    return int(value)


def _real(value, what):
    if isinstance(value, bool):
        raise type_error(what, "a number", value)
    try:
        return float(value)
    except (TypeError, ValueError):
        raise type_error(what, "a number", value) from None


class Net(Handle):
    """hb_net: a network definition (see the module docstring and docs/api.md)."""

    def __init__(self, ctx, dtype="f64"):
        if not AVAILABLE:
            raise Unsupported("hb_net is not in the loaded libhessblock (%s)" % _lib.path, -10)
        ctx_ptr = require(ctx, Context, "ctx")
        out = c_void_p()
        ctx._check(_create(ctx_ptr, int(to_dtype(dtype)), ctypes.byref(out)))
        self._ctx = ctx
        self._init_handle(out.value, _free, ctx)

    def _call(self, fn, *args):
        self._ctx._check(fn(self._ptr, *args))
        return self

    # ---- input -------------------------------------------------------------------------
    def input_tokens(self, name, context, vocab):
        """hb_net_input_tokens: per-sample (context) i32 token ids in [0, vocab)."""
        return self._call(_in_tokens, _name(name, "name"), _int(context, "context"),
                          _int(vocab, "vocab"))

    def input_features(self, name, shape):
        """hb_net_input_features: per-sample shape (F), (T, C) or (C, H, W)."""
        if isinstance(shape, (int,)) and not isinstance(shape, bool):
            shape = (shape,)
        try:
            dims = [_int(d, "shape") for d in shape]
        except TypeError:
            raise type_error("shape", "a tuple of integers", shape) from None
        arr = (c_int64 * max(1, len(dims)))(*dims)
        return self._call(_in_features, _name(name, "name"), len(dims), arr)

    # ---- operations --------------------------------------------------------------------
    def embedding(self, name, inp, out, width):
        """hb_net_embedding: tokens (T) → (T, width); block '<name>.weight'."""
        return self._call(_embedding, _name(name, "name"), _name(inp, "inp"), _name(out, "out"),
                          _int(width, "width"))

    def pos_embedding(self, name, inp, out):
        """hb_net_pos_embedding: (T, C) → (T, C), out[t] = in[t] + W[t]."""
        return self._call(_pos_embedding, _name(name, "name"), _name(inp, "inp"),
                          _name(out, "out"))

    def linear(self, name, inp, out, out_features, bias=True, kind=None):
        """hb_net_linear: out = x·Wᵀ + b over the last dimension; kind: a BlockKind of the
        weight (default 'linear')."""
        k = 0 if kind is None else int(to_enum(BlockKind, kind, "block kind"))
        return self._call(_linear, _name(name, "name"), _name(inp, "inp"), _name(out, "out"),
                          _int(out_features, "out_features"), 1 if bias else 0, k)

    def layernorm(self, name, inp, out, eps=0.0):
        """hb_net_layernorm (eps 0 → 1e-5)."""
        return self._call(_layernorm, _name(name, "name"), _name(inp, "inp"), _name(out, "out"),
                          _real(eps, "eps"))

    def rmsnorm(self, name, inp, out, eps=0.0):
        """hb_net_rmsnorm (eps 0 → 1e-5)."""
        return self._call(_rmsnorm, _name(name, "name"), _name(inp, "inp"), _name(out, "out"),
                          _real(eps, "eps"))

    def attention(self, name, inp, out, heads, bias=True):
        """hb_net_attention: causal multi-head self-attention with blocks
        '<name>.wq', '<name>.wk', '<name>.wv', '<name>.wo' (and their '.bias')."""
        return self._call(_attention, _name(name, "name"), _name(inp, "inp"), _name(out, "out"),
                          _int(heads, "heads"), 1 if bias else 0)

    def activation(self, act, inp, out):
        """hb_net_activation: act is an Activation or its name ('relu', 'gelu' (tanh form),
        'gelu_erf', 'silu', 'tanh')."""
        return self._call(_activation, int(to_enum(Activation, act, "activation")),
                          _name(inp, "inp"), _name(out, "out"))

    def conv2d(self, name, inp, out, out_channels, kernel, padding=0, bias=True):
        """hb_net_conv2d: stride-1 convolution of an image (C, H, W)."""
        return self._call(_conv2d, _name(name, "name"), _name(inp, "inp"), _name(out, "out"),
                          _int(out_channels, "out_channels"), _int(kernel, "kernel"),
                          _int(padding, "padding"), 1 if bias else 0)

    def pool2d(self, kind, inp, out, size):
        """hb_net_pool2d: 'avg' or 'max' pooling, window = stride = size."""
        return self._call(_pool2d, int(to_enum(Pool, kind, "pool kind")), _name(inp, "inp"),
                          _name(out, "out"), _int(size, "size"))

    def flatten(self, inp, out):
        """hb_net_flatten: (C, H, W) → (C·H·W), (T, C) → (T·C)."""
        return self._call(_flatten, _name(inp, "inp"), _name(out, "out"))

    def add(self, a, b, out):
        """hb_net_add: residual add of two activations of equal shape."""
        return self._call(_add, _name(a, "a"), _name(b, "b"), _name(out, "out"))

    # ---- loss ---------------------------------------------------------------------------
    def loss_xent(self, logits):
        """hb_net_loss_xent: softmax cross-entropy against i32 class ids."""
        return self._call(_loss_xent, _name(logits, "logits"))

    def loss_mse(self, prediction):
        """hb_net_loss_mse: mean squared error against float targets of its shape."""
        return self._call(_loss_mse, _name(prediction, "prediction"))

    # ---- blocks ---------------------------------------------------------------------------
    def rename_block(self, block, new_name):
        """hb_net_rename_block."""
        return self._call(_rename, _name(block, "block"), _name(new_name, "new_name"))

    def set_block_kind(self, block, kind):
        """hb_net_set_block_kind."""
        return self._call(_set_kind, _name(block, "block"),
                          int(to_enum(BlockKind, kind, "block kind")))

    def set_init(self, block, init, a=0.0, b=0.0):
        """hb_net_set_init: initialise `block` as hb_params_init_block(init, a, b)."""
        return self._call(_set_init, _name(block, "block"), int(to_enum(Init, init, "init")),
                          _real(a, "a"), _real(b, "b"))

    # ---- queries and models -------------------------------------------------------------------
    @property
    def op_count(self):
        """hb_net_op_count: operations so far (the input and the loss included)."""
        return int(_op_count(self._ptr))

    def shape(self, name):
        """hb_net_activation_shape: the per-sample shape of an activation, as a tuple."""
        nd = c_int()
        dims = (c_int64 * 3)()
        self._ctx._check(_act_shape(self._ptr, _name(name, "name"), ctypes.byref(nd), dims))
        return tuple(int(dims[i]) for i in range(nd.value))

    def model(self):
        """hb_model_create_net: a new model of this net (parameters initialised afresh)."""
        out = c_void_p()
        self._ctx._check(_model_create(self._ptr, ctypes.byref(out)))
        m = object.__new__(Model)
        m._setup(self._ctx, out.value, None)
        return m
