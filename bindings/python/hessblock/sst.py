"""SST spectral layers and the LoRA baseline (sst.h): reparametrising wrapper models.

    with hb.SSTConfig(ctx, "spectral", rank=4, kinds=["linear"]) as cfg:
        wrapper = hb.SSTModel(inner_model, cfg)     # a Model over U, s, Vt blocks
    opt = hb.Optimizer(ctx, "adamw", wrapper.params, lr=1e-3)
    hb.Trainer(wrapper, opt).run(400)               # the trainer drives the SST schedule
    wrapper.sync()                                  # inner model now computes the same
"""
import ctypes
import enum
from collections import namedtuple

import numpy as np

from . import _lib
from ._handle import Handle, require
from .core import Context, to_enum
from .errors import Unsupported
from .model import Model
from .params import BlockKind

c_void_p, c_int, c_int64, c_size_t, c_double, c_char_p = (
    ctypes.c_void_p, ctypes.c_int, ctypes.c_int64, ctypes.c_size_t, ctypes.c_double,
    ctypes.c_char_p)
P = ctypes.POINTER


declare = _lib.declare_optional  # this component may be absent from the library


class SSTMethod(enum.IntEnum):
    SPECTRAL = 1
    LORA = 2


class SSTOption(enum.IntEnum):
    RANK = 1
    ITERATION = 2
    REWARM = 3
    UNIFORM_MIX = 4
    GRADIENT = 5
    LORA_ALPHA = 6
    FREEZE_OTHERS = 7
    RESET = 8


class SSTReset(enum.IntEnum):
    MOMENTS = 1
    RESTART = 2


class SSTGradient(enum.IntEnum):
    ENHANCED = 1
    EXACT = 2


_REAL = {SSTOption.UNIFORM_MIX, SSTOption.LORA_ALPHA}

_cfg_create = declare("hb_sst_config_create", c_int, [c_void_p, c_int, P(c_void_p)])
_cfg_free = declare("hb_sst_config_free", None, [c_void_p])
_cfg_set_i64 = declare("hb_sst_config_set_i64", c_int, [c_void_p, c_int, c_int64])
_cfg_set_f64 = declare("hb_sst_config_set_f64", c_int, [c_void_p, c_int, c_double])
_cfg_add_block = declare("hb_sst_config_add_block", c_int, [c_void_p, c_char_p])
_cfg_add_kind = declare("hb_sst_config_add_kind", c_int, [c_void_p, c_int])
_create = declare("hb_sst_create", c_int, [c_void_p, c_void_p, P(c_void_p)])
_is_wrapper = declare("hb_sst_is_wrapper", c_int, [c_void_p])
_method_of = declare("hb_sst_method_of", c_int, [c_void_p])
_inner = declare("hb_sst_inner", c_void_p, [c_void_p])
_num_layers = declare("hb_sst_num_layers", c_int, [c_void_p, P(c_size_t)])
_layer_info = declare("hb_sst_layer_info", c_int,
                      [c_void_p, c_size_t, P(c_char_p), P(c_int64), P(c_int64), P(c_int64), P(c_int64)])
_active = declare("hb_sst_active", c_int, [c_void_p, c_size_t, P(c_int64)])
_trainable = declare("hb_sst_trainable_count", c_int, [c_void_p, P(c_size_t)])
_sync = declare("hb_sst_sync", c_int, [c_void_p])
_resvd = declare("hb_sst_resvd", c_int, [c_void_p])
_begin = declare("hb_sst_begin_step", c_int, [c_void_p, c_int64, c_void_p, P(c_double)])
_end = declare("hb_sst_end_step", c_int, [c_void_p])

AVAILABLE = _create is not None

SSTLayer = namedtuple("SSTLayer", "index name out_dim in_dim k r")


def _optimizer_class():
    from .optim import Optimizer   # optim is a sibling component: imported when needed
    return Optimizer


def _need(fn, name):
    if fn is None:
        raise Unsupported("%s is not in the loaded libhessblock (%s)" % (name, _lib.path), -10)
    return fn


def is_wrapper(model):
    """hb_sst_is_wrapper."""
    return bool(_need(_is_wrapper, "hb_sst_is_wrapper")(require(model, Model, "model")))


class SSTConfig(Handle):
    """hb_sst_config: method ('spectral' or 'lora'), options (rank=, iteration=, rewarm=,
    uniform_mix=, gradient=, lora_alpha=, freeze_others=, reset='moments'|'restart') and the blocks to convert
    (blocks=[names], kinds=[BlockKind or names])."""

    def __init__(self, ctx, method="spectral", blocks=(), kinds=(), **options):
        ctx_ptr = require(ctx, Context, "ctx")
        out = c_void_p()
        ctx._check(_need(_cfg_create, "hb_sst_config_create")(
            ctx_ptr, int(to_enum(SSTMethod, method, "SST method")), ctypes.byref(out)))
        self._ctx = ctx
        self._init_handle(out.value, _cfg_free, ctx)
        for k, v in options.items():
            self[k] = v
        for b in blocks:
            self.add_block(b)
        for k in kinds:
            self.add_kind(k)

    def __setitem__(self, key, value):
        key = to_enum(SSTOption, key, "SST option")
        if key in _REAL:
            self._ctx._check(_cfg_set_f64(self._ptr, key, float(value)))
            return
        if key == SSTOption.GRADIENT:
            value = to_enum(SSTGradient, value, "SST gradient")
        if key == SSTOption.RESET:
            value = to_enum(SSTReset, value, "SST reset")
        self._ctx._check(_cfg_set_i64(self._ptr, key, int(value)))

    def set_i64(self, key, value):
        self._ctx._check(_cfg_set_i64(self._ptr, to_enum(SSTOption, key, "SST option"), int(value)))

    def set_f64(self, key, value):
        self._ctx._check(_cfg_set_f64(self._ptr, to_enum(SSTOption, key, "SST option"), float(value)))

    def add_block(self, name):
        self._ctx._check(_cfg_add_block(self._ptr, str(name).encode()))

    def add_kind(self, kind):
        self._ctx._check(_cfg_add_kind(self._ptr, int(to_enum(BlockKind, kind, "block kind"))))


class SSTModel(Model):
    """hb_sst_create: a wrapper Model over `inner` (kept alive; closing inner closes the
    wrapper first). Its params are the reparametrised blocks; loss/loss_grad/accuracy
    and the data calls work as for any model; Hessian products are Unsupported (analyse
    the inner model after sync())."""

    def __init__(self, inner, config):
        inner_ptr = require(inner, Model, "inner")
        config_ptr = require(config, SSTConfig, "config")
        ctx = inner.context
        out = c_void_p()
        ctx._check(_need(_create, "hb_sst_create")(inner_ptr, config_ptr, ctypes.byref(out)))
        self._ctx = ctx
        self._objective = None
        self._params = None
        self._inner = inner
        self._init_handle(out.value, Model._free_fn(), inner)

    @property
    def inner(self):
        assert _inner(self._ptr) == self._inner._ptr
        return self._inner

    @property
    def method(self):
        return SSTMethod(_method_of(self._ptr))

    @property
    def num_layers(self):
        n = c_size_t()
        self._check(_num_layers(self._ptr, ctypes.byref(n)))
        return n.value

    def layer(self, i):
        """hb_sst_layer_info as an SSTLayer (name of the inner block, out, in, k, r)."""
        name, o, n, k, r = c_char_p(), c_int64(), c_int64(), c_int64(), c_int64()
        self._check(_layer_info(self._ptr, int(i), ctypes.byref(name), ctypes.byref(o),
                                ctypes.byref(n), ctypes.byref(k), ctypes.byref(r)))
        return SSTLayer(int(i), name.value.decode(), o.value, n.value, k.value, r.value)

    @property
    def layers(self):
        return [self.layer(i) for i in range(self.num_layers)]

    def active(self, i):
        """hb_sst_active: the r active singular-pair indices of layer i (ascending)."""
        r = self.layer(i).r
        out = np.zeros(r, dtype=np.int64)
        self._check(_active(self._ptr, int(i), out.ctypes.data_as(P(c_int64))))
        return out

    @property
    def trainable_count(self):
        n = c_size_t()
        self._check(_trainable(self._ptr, ctypes.byref(n)))
        return n.value

    def sync(self):
        """hb_sst_sync: form every W into the inner model's parameters now."""
        self._check(_sync(self._ptr))

    def resvd(self):
        """hb_sst_resvd: re-orthonormalise every SST layer by an SVD."""
        self._check(_resvd(self._ptr))

    def begin_step(self, step, optimizer=None):
        """hb_sst_begin_step: the schedule in a hand-written loop; returns the lr factor."""
        f = c_double()
        opt_ptr = require(optimizer, _optimizer_class(), "optimizer", optional=True)
        self._check(_begin(self._ptr, int(step), opt_ptr, ctypes.byref(f)))
        return f.value

    def end_step(self):
        """hb_sst_end_step: clamp s >= 0 after the update."""
        self._check(_end(self._ptr))
