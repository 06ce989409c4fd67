"""Optimizers (optim.h) and checkpoints (checkpoint.h).

    opt = hb.Optimizer(ctx, "adamw", model.params, lr=1e-3, weight_decay=0.1)
    opt.override("h.*.ln_*", "weight_decay", 0.0)
    opt.schedule_cosine(warmup=100, total=1000)
    for step in range(1000):
        model.loss_grad(); opt.step()
    hb.checkpoint.save("run.ckpt", model.params, opt)
"""
import ctypes
import enum
import os

from . import _lib
from ._handle import Handle, expect, require, type_error
from .core import Context, to_enum
from .errors import InvalidArgument, Unsupported, store_exception
from .model import Model
from .params import BlockKind, Params

c_void_p, c_int, c_int64, c_size_t, c_double, c_char_p = (
    ctypes.c_void_p, ctypes.c_int, ctypes.c_int64, ctypes.c_size_t, ctypes.c_double,
    ctypes.c_char_p)
P = ctypes.POINTER


declare = _lib.declare_optional  # this component may be absent from the library


class OptimizerKind(enum.IntEnum):
    SGD = 1
    ADAM = 2
    ADAMW = 3
    ADAM_MINI = 4


class OptimizerOption(enum.IntEnum):
    LR = 1
    WEIGHT_DECAY = 2
    MOMENTUM = 3
    DAMPENING = 4
    NESTEROV = 5
    BETA1 = 6
    BETA2 = 7
    EPS = 8
    HEADS = 9
    CLIP_NORM = 10
    STOCHASTIC_ROUNDING = 11
    MASTER_COPY = 12
    DECAY_NORMS_BIASES = 13
    LR_MULT = 14


_INT_KEYS = {OptimizerOption.NESTEROV, OptimizerOption.HEADS,
             OptimizerOption.STOCHASTIC_ROUNDING, OptimizerOption.MASTER_COPY,
             OptimizerOption.DECAY_NORMS_BIASES}

SCHEDULE_FN = ctypes.CFUNCTYPE(c_double, c_void_p, c_int64)

_kind_name = declare("hb_optimizer_kind_name", c_char_p, [c_int])
_create = declare("hb_optimizer_create", c_int, [c_void_p, c_int, c_void_p, P(c_void_p)])
_free = declare("hb_optimizer_free", None, [c_void_p])
_set_f64 = declare("hb_optimizer_set_f64", c_int, [c_void_p, c_int, c_double])
_get_f64 = declare("hb_optimizer_get_f64", c_int, [c_void_p, c_int, P(c_double)])
_set_i64 = declare("hb_optimizer_set_i64", c_int, [c_void_p, c_int, c_int64])
_get_i64 = declare("hb_optimizer_get_i64", c_int, [c_void_p, c_int, P(c_int64)])
_override = declare("hb_optimizer_override_f64", c_int, [c_void_p, c_char_p, c_int, c_double])
_override_kind = declare("hb_optimizer_override_kind_f64", c_int, [c_void_p, c_int, c_int, c_double])
_block_f64 = declare("hb_optimizer_block_f64", c_int, [c_void_p, c_size_t, c_int, P(c_double)])
_set_block = declare("hb_optimizer_set_block_f64", c_int, [c_void_p, c_size_t, c_int, c_double])
_sched_const = declare("hb_optimizer_schedule_constant", c_int, [c_void_p])
_sched_cos = declare("hb_optimizer_schedule_cosine", c_int, [c_void_p, c_int64, c_int64, c_double])
_sched_cb = declare("hb_optimizer_schedule_callback", c_int, [c_void_p, SCHEDULE_FN, c_void_p])
_lr_factor = declare("hb_optimizer_lr_factor", c_int, [c_void_p, c_int64, P(c_double)])
_step = declare("hb_optimizer_step", c_int, [c_void_p])
_step_count = declare("hb_optimizer_step_count", c_int64, [c_void_p])
_kind_of = declare("hb_optimizer_kind_of", c_int, [c_void_p])
_params_of = declare("hb_optimizer_params", c_void_p, [c_void_p])
_reset = declare("hb_optimizer_reset", c_int, [c_void_p])
_reset_range = declare("hb_optimizer_reset_range", c_int, [c_void_p, c_size_t, c_size_t])
_reset_block = declare("hb_optimizer_reset_block", c_int, [c_void_p, c_size_t])
_block_steps = declare("hb_optimizer_block_step_count", c_int, [c_void_p, c_size_t, P(c_int64)])
_partitions = declare("hb_optimizer_partitions", c_int, [c_void_p, c_size_t, P(c_size_t), P(c_size_t)])
_state_bytes = declare("hb_optimizer_state_bytes", c_int, [c_void_p, P(c_size_t)])

_ck_save = declare("hb_checkpoint_save", c_int, [c_char_p, c_void_p, c_void_p])
_ck_load = declare("hb_checkpoint_load", c_int, [c_char_p, c_void_p, c_void_p])
_ck_size = declare("hb_checkpoint_size", c_int, [c_void_p, c_void_p, P(c_size_t)])
_ck_save_buf = declare("hb_checkpoint_save_buffer", c_int,
                       [c_void_p, c_void_p, c_void_p, c_size_t, P(c_size_t)])
_ck_load_buf = declare("hb_checkpoint_load_buffer", c_int, [c_void_p, c_size_t, c_void_p, c_void_p])

AVAILABLE = _create is not None
CHECKPOINT_AVAILABLE = _ck_save is not None


def _need(fn, name):
    if fn is None:
        raise Unsupported("%s is not in the loaded libhessblock (%s)" % (name, _lib.path), -10)
    return fn


def kind_name(kind):
    """hb_optimizer_kind_name: 'sgd', 'adam', 'adamw', 'adam_mini' ('?' if unknown)."""
    return _need(_kind_name, "hb_optimizer_kind_name")(int(kind)).decode()


def _key(key):
    return to_enum(OptimizerOption, key, "optimizer option")


class Optimizer(Handle):
    """hb_optimizer over a Params (kept alive; closing the Params closes the optimizer).

    Optimizer(ctx, 'adamw', params, lr=1e-3, weight_decay=0.1, ...). Options by
    OptimizerOption or name; integer options (nesterov, heads, stochastic_rounding,
    master_copy, decay_norms_biases) take ints/bools."""

    def __init__(self, ctx, kind, params, **options):
        ctx_ptr = require(ctx, Context, "ctx")
        if isinstance(expect(params, (Params, Model), "params"), Model):
            params = params.params
        out = c_void_p()
        ctx._check(_need(_create, "hb_optimizer_create")(
            ctx_ptr, int(to_enum(OptimizerKind, kind, "optimizer kind")), params._ptr,
            ctypes.byref(out)))
        self._ctx = ctx
        self._params = params
        self._init_handle(out.value, _free, params)
        self._keep = {}
        self._res.keep = self._keep
        for k, v in options.items():
            self[k] = v

    def _check(self, st):
        return self._ctx._check(st)

    @property
    def params(self):
        assert _params_of(self._ptr) == self._params._ptr
        return self._params

    @property
    def kind(self):
        return OptimizerKind(_kind_of(self._ptr))

    def __setitem__(self, key, value):
        key = _key(key)
        if key in _INT_KEYS:
            self._check(_set_i64(self._ptr, key, int(value)))
        else:
            self._check(_set_f64(self._ptr, key, float(value)))

    def __getitem__(self, key):
        key = _key(key)
        if key in _INT_KEYS:
            v = c_int64()
            self._check(_get_i64(self._ptr, key, ctypes.byref(v)))
        else:
            v = c_double()
            self._check(_get_f64(self._ptr, key, ctypes.byref(v)))
        return v.value

    def set_f64(self, key, value):
        self._check(_set_f64(self._ptr, _key(key), float(value)))

    def set_i64(self, key, value):
        self._check(_set_i64(self._ptr, _key(key), int(value)))

    def get_f64(self, key):
        v = c_double()
        self._check(_get_f64(self._ptr, _key(key), ctypes.byref(v)))
        return v.value

    def get_i64(self, key):
        v = c_int64()
        self._check(_get_i64(self._ptr, _key(key), ctypes.byref(v)))
        return v.value

    def override(self, pattern, key, value):
        """hb_optimizer_override_f64: per-block value for blocks matching a glob."""
        self._check(_override(self._ptr, str(pattern).encode(), _key(key), float(value)))

    def override_kind(self, kind, key, value):
        """hb_optimizer_override_kind_f64: per-block value for every block of a kind."""
        self._check(_override_kind(self._ptr, int(to_enum(BlockKind, kind, "block kind")),
                                   _key(key), float(value)))

    def set_block_value(self, block, key, value):
        """hb_optimizer_set_block_f64: block `block`'s (name or index) value of a block
        option; wins over every override and replaces its own earlier value."""
        self._check(_set_block(self._ptr, self._params.index(block), _key(key), float(value)))

    def block_value(self, block, key):
        """hb_optimizer_block_f64: the effective value of a block option for a block."""
        v = c_double()
        self._check(_block_f64(self._ptr, self._params.index(block), _key(key), ctypes.byref(v)))
        return v.value

    # ---- schedules
    def schedule_constant(self):
        self._check(_sched_const(self._ptr))
        self._keep.pop("schedule", None)

    def schedule_cosine(self, warmup, total, floor=0.0):
        self._check(_sched_cos(self._ptr, int(warmup), int(total), float(floor)))
        self._keep.pop("schedule", None)

    def schedule(self, fn):
        """hb_optimizer_schedule_callback: fn(step) -> lr factor (finite, >= 0). An
        exception in fn fails the step (re-raised by step())."""
        if not callable(fn):
            raise type_error("fn", "a callable", fn)

        def tramp(user, step):
            try:
                return float(fn(int(step)))
            except BaseException as e:
                store_exception(e)
                return float("nan")
        cb = SCHEDULE_FN(tramp)
        self._check(_sched_cb(self._ptr, cb, None))
        self._keep["schedule"] = cb

    def lr_factor(self, step):
        v = c_double()
        self._check(_lr_factor(self._ptr, int(step), ctypes.byref(v)))
        return v.value

    # ---- stepping
    def step(self):
        """hb_optimizer_step: one update from the params' gradient buffer."""
        self._check(_step(self._ptr))

    @property
    def step_count(self):
        return int(_step_count(self._ptr))

    def reset(self):
        self._check(_reset(self._ptr))

    def reset_range(self, offset, length):
        """hb_optimizer_reset_range: zero the state of flat elements [offset, offset+length)."""
        if offset < 0 or length < 0:
            raise InvalidArgument("offset and length must be >= 0", -1)
        self._check(_reset_range(self._ptr, int(offset), int(length)))

    def reset_block(self, block):
        """hb_optimizer_reset_block: zero the block's state and restart its step (bias
        correction from 1 again, as deleting a parameter's state in torch.optim)."""
        self._check(_reset_block(self._ptr, self._params.index(block)))

    def block_step_count(self, block):
        """hb_optimizer_block_step_count: steps since the block's last restart."""
        v = c_int64()
        self._check(_block_steps(self._ptr, self._params.index(block), ctypes.byref(v)))
        return v.value

    def partitions(self, block):
        """hb_optimizer_partitions: (count, size) of the block's Adam-mini partitions."""
        c, s = c_size_t(), c_size_t()
        self._check(_partitions(self._ptr, self._params.index(block), ctypes.byref(c),
                                ctypes.byref(s)))
        return c.value, s.value

    @property
    def state_bytes(self):
        v = c_size_t()
        self._check(_state_bytes(self._ptr, ctypes.byref(v)))
        return v.value

    def __repr__(self):
        if self.closed:
            return "<hessblock.Optimizer closed>"
        return "<hessblock.Optimizer %s steps=%d>" % (kind_name(self.kind), self.step_count)


# ---- checkpoints ---------------------------------------------------------------------------

def _ptrs(params, optimizer):
    """(params pointer, optimizer pointer or None), both type-checked, and the optimizer
    over these params. Computed before any attribute of `params` is used."""
    params_ptr = require(params, Params, "params")
    opt_ptr = require(optimizer, Optimizer, "optimizer", optional=True)
    if opt_ptr is not None and optimizer._params is not params \
            and optimizer._params._ptr != params_ptr:
        raise InvalidArgument("the optimizer is over other params", -1)
    return params_ptr, opt_ptr


def save_checkpoint(path, params, optimizer=None):
    """hb_checkpoint_save: params (and the optimizer's state and step count) to path,
    atomically."""
    p, o = _ptrs(params, optimizer)
    params._check(_need(_ck_save, "hb_checkpoint_save")(os.fsencode(path), p, o))


def load_checkpoint(path, params, optimizer=None):
    """hb_checkpoint_load: validate everything, then load; nothing changes on failure."""
    p, o = _ptrs(params, optimizer)
    params._check(_need(_ck_load, "hb_checkpoint_load")(os.fsencode(path), p, o))


def checkpoint_size(params, optimizer=None):
    """hb_checkpoint_size: bytes of the in-memory checkpoint."""
    p, o = _ptrs(params, optimizer)
    v = c_size_t()
    params._check(_need(_ck_size, "hb_checkpoint_size")(p, o, ctypes.byref(v)))
    return v.value


def checkpoint_bytes(params, optimizer=None):
    """hb_checkpoint_save_buffer into a new bytes object."""
    n = checkpoint_size(params, optimizer)
    p, o = _ptrs(params, optimizer)
    buf = ctypes.create_string_buffer(n)
    written = c_size_t()
    params._check(_ck_save_buf(p, o, buf, n, ctypes.byref(written)))
    return buf.raw[:written.value]


def load_checkpoint_bytes(data, params, optimizer=None):
    """hb_checkpoint_load_buffer from a bytes-like object (TypeError for anything else)."""
    p, o = _ptrs(params, optimizer)
    data = bytes(memoryview(data))   # bytes(7) would be 7 zero bytes: take bytes-likes only
    params._check(_need(_ck_load_buf, "hb_checkpoint_load_buffer")(data, len(data), p, o))
