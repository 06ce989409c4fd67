"""The training loop (train.h) and SST/LoRA wrapper models (sst.h).

    opt = hb.Optimizer(ctx, "adam", model.params, lr=3e-3)
    w = hb.SSTModel(model, "spectral", kinds=["linear"], rank=4, iteration=200)
    tr = hb.Trainer(w, hb.Optimizer(ctx, "adam", w.params, lr=3e-3), eval_every=100)
    tr.run(1000)
    loss = tr.records("loss")          # numpy array, one value per step
"""
import ctypes
import enum

import numpy as np

from . import _lib
from ._handle import Handle
from .core import to_enum
from .errors import InvalidArgument, Unsupported, store_exception
from .model import Model
from .params import BlockKind

c_void_p, c_int, c_int64, c_size_t, c_double, c_char_p = (
    ctypes.c_void_p, ctypes.c_int, ctypes.c_int64, ctypes.c_size_t, ctypes.c_double,
    ctypes.c_char_p)
P = ctypes.POINTER


def declare(name, restype, argtypes):
    return _lib.declare(name, restype, argtypes, optional=True)


class TrainerOption(enum.IntEnum):
    LR = 1
    EVAL_EVERY = 2
    EVAL_BATCHES = 3
    EVAL_OFFSET = 4
    TRAIN_BATCHES = 5
    DATA_STREAM = 6
    BLOCK_NORMS = 7
    CHECKPOINT_EVERY = 8


class RecordKey(enum.IntEnum):
    STEP = 1
    LOSS = 2
    GRAD_NORM = 3
    LR = 4
    WEIGHT_NORM = 5
    EVAL_LOSS = 6
    EVAL_ACCURACY = 7
    TIME = 8


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


class SSTGradient(enum.IntEnum):
    ENHANCED = 1
    EXACT = 2


DATA_FN = ctypes.CFUNCTYPE(c_int, c_void_p, c_void_p, c_int64)

_tr_create = declare("hb_trainer_create", c_int, [c_void_p, c_void_p, P(c_void_p)])
_tr_free = declare("hb_trainer_free", None, [c_void_p])
_tr_set_i64 = declare("hb_trainer_set_i64", c_int, [c_void_p, c_int, c_int64])
_tr_set_f64 = declare("hb_trainer_set_f64", c_int, [c_void_p, c_int, c_double])
_tr_get_i64 = declare("hb_trainer_get_i64", c_int, [c_void_p, c_int, P(c_int64)])
_tr_get_f64 = declare("hb_trainer_get_f64", c_int, [c_void_p, c_int, P(c_double)])
_tr_data_fn = declare("hb_trainer_set_data_fn", c_int, [c_void_p, DATA_FN, c_void_p])
_tr_eval_fn = declare("hb_trainer_set_eval_fn", c_int, [c_void_p, DATA_FN, c_void_p])
_tr_ckpt = declare("hb_trainer_set_checkpoint", c_int, [c_void_p, c_char_p, c_int64])
_tr_run = declare("hb_trainer_run", c_int, [c_void_p, c_int64])
_tr_step = declare("hb_trainer_step", c_int64, [c_void_p])
_tr_evaluate = declare("hb_trainer_evaluate", c_int, [c_void_p, P(c_double), P(c_double)])
_tr_num = declare("hb_trainer_num_records", c_size_t, [c_void_p])
_tr_rec = declare("hb_trainer_record_f64", c_int, [c_void_p, c_size_t, c_int, P(c_double)])
_tr_bnorm = declare("hb_trainer_record_block_norm", c_int,
                    [c_void_p, c_size_t, c_size_t, P(c_double)])
_tr_recs = declare("hb_trainer_records_f64", c_int,
                   [c_void_p, c_int, c_size_t, c_size_t, P(c_double)])

_cfg_create = declare("hb_sst_config_create", c_int, [c_void_p, c_int, P(c_void_p)])
_cfg_free = declare("hb_sst_config_free", None, [c_void_p])
_cfg_set_i64 = declare("hb_sst_config_set_i64", c_int, [c_void_p, c_int, c_int64])
_cfg_set_f64 = declare("hb_sst_config_set_f64", c_int, [c_void_p, c_int, c_double])
_cfg_add_block = declare("hb_sst_config_add_block", c_int, [c_void_p, c_char_p])
_cfg_add_kind = declare("hb_sst_config_add_kind", c_int, [c_void_p, c_int])
_sst_create = declare("hb_sst_create", c_int, [c_void_p, c_void_p, P(c_void_p)])
_sst_is = declare("hb_sst_is_wrapper", c_int, [c_void_p])
_sst_method = declare("hb_sst_method_of", c_int, [c_void_p])
_sst_inner = declare("hb_sst_inner", c_void_p, [c_void_p])
_sst_nlayers = declare("hb_sst_num_layers", c_int, [c_void_p, P(c_size_t)])
_sst_info = declare("hb_sst_layer_info", c_int, [c_void_p, c_size_t, P(c_char_p), P(c_int64),
                                                 P(c_int64), P(c_int64), P(c_int64)])
_sst_active = declare("hb_sst_active", c_int, [c_void_p, c_size_t, P(c_int64)])
_sst_count = declare("hb_sst_trainable_count", c_int, [c_void_p, P(c_size_t)])
_sst_sync = declare("hb_sst_sync", c_int, [c_void_p])
_sst_resvd = declare("hb_sst_resvd", c_int, [c_void_p])
_sst_begin = declare("hb_sst_begin_step", c_int, [c_void_p, c_int64, c_void_p, P(c_double)])
_sst_end = declare("hb_sst_end_step", c_int, [c_void_p])

AVAILABLE = _tr_create is not None and _sst_create is not None

_REAL_SST = {SSTOption.UNIFORM_MIX, SSTOption.LORA_ALPHA}


def _need(fn, name):
    if fn is None:
        raise Unsupported("%s is not in the loaded libhessblock (%s)" % (name, _lib.path), -10)
    return fn


class Trainer(Handle):
    """hb_trainer over a Model and an optional Optimizer (None: the built-in GD step with
    lr = option 'lr'). Options by TrainerOption or name: Trainer(m, opt, eval_every=100)."""

    def __init__(self, model, optimizer=None, **options):
        ctx = model._ctx
        out = c_void_p()
        ctx._check(_need(_tr_create, "hb_trainer_create")(
            model._ptr, optimizer._ptr if optimizer is not None else None, ctypes.byref(out)))
        self._ctx = ctx
        self._model = model
        self._optimizer = optimizer
        self._keep = {}
        self._init_handle(out.value, _tr_free, model, keep=self._keep)
        for k, v in options.items():
            self[k] = v

    def _check(self, st):
        return self._ctx._check(st)

    def __setitem__(self, key, value):
        k = to_enum(TrainerOption, key, "trainer option")
        if k == TrainerOption.LR:
            self._check(_tr_set_f64(self._ptr, int(k), float(value)))
        else:
            self._check(_tr_set_i64(self._ptr, int(k), int(value)))

    def __getitem__(self, key):
        k = to_enum(TrainerOption, key, "trainer option")
        if k == TrainerOption.LR:
            v = c_double()
            self._check(_tr_get_f64(self._ptr, int(k), ctypes.byref(v)))
        else:
            v = c_int64()
            self._check(_tr_get_i64(self._ptr, int(k), ctypes.byref(v)))
        return v.value

    def _callback(self, setter, name, fn):
        if fn is None:
            self._check(setter(self._ptr, DATA_FN(), None))
            self._keep.pop(name, None)
            return
        model = self._model

        def tramp(user, m, step):
            try:
                fn(model, int(step))
                return 0
            except BaseException as e:  # re-raised by the calling method
                store_exception(e)
                return 1
        cb = DATA_FN(tramp)
        self._check(setter(self._ptr, cb, None))
        self._keep[name] = cb

    def set_data_fn(self, fn):
        """fn(model, step) sets the model's data for `step` (None removes it)."""
        self._callback(_tr_data_fn, "data", fn)

    def set_eval_fn(self, fn):
        """fn(model, step) sets the held-out data before an evaluation."""
        self._callback(_tr_eval_fn, "eval", fn)

    def set_checkpoint(self, path, every):
        self._check(_tr_ckpt(self._ptr, path.encode() if path is not None else None, int(every)))

    def run(self, steps):
        """hb_trainer_run: `steps` more steps."""
        self._check(_tr_run(self._ptr, int(steps)))

    @property
    def step(self):
        return _tr_step(self._ptr)

    def evaluate(self):
        """(held-out loss, accuracy or nan)."""
        l, a = c_double(), c_double()
        self._check(_tr_evaluate(self._ptr, ctypes.byref(l), ctypes.byref(a)))
        return l.value, a.value

    def __len__(self):
        return _tr_num(self._ptr)

    def record(self, i, key):
        v = c_double()
        self._check(_tr_rec(self._ptr, int(i), int(to_enum(RecordKey, key, "record key")),
                            ctypes.byref(v)))
        return v.value

    def records(self, key, first=0, n=None):
        """One key of records [first, first+n) as a float64 numpy array."""
        n = len(self) - first if n is None else n
        out = np.empty(max(n, 0), dtype=np.float64)
        self._check(_tr_recs(self._ptr, int(to_enum(RecordKey, key, "record key")), int(first),
                             int(n), out.ctypes.data_as(P(c_double))))
        return out

    def block_norm(self, i, block):
        v = c_double()
        self._check(_tr_bnorm(self._ptr, int(i), int(block), ctypes.byref(v)))
        return v.value


class SSTModel(Model):
    """A SST or LoRA wrapper (hb_sst_create) over `inner` (kept alive; closing it closes
    the wrapper). SSTModel(inner, 'spectral' | 'lora', blocks=[names], kinds=[kinds],
    rank=8, iteration=200, rewarm=20, uniform_mix=0, gradient='enhanced', lora_alpha=0,
    freeze_others=0). It is a Model: loss, loss_grad, params, data setters work."""

    def __init__(self, inner, method, blocks=(), kinds=(), **options):
        ctx = inner._ctx
        cfg = c_void_p()
        ctx._check(_need(_cfg_create, "hb_sst_config_create")(
            ctx._ptr, int(to_enum(SSTMethod, method, "SST method")), ctypes.byref(cfg)))
        try:
            for b in blocks:
                ctx._check(_cfg_add_block(cfg, b.encode()))
            for k in kinds:
                ctx._check(_cfg_add_kind(cfg, int(to_enum(BlockKind, k, "block kind"))))
            for k, v in options.items():
                key = to_enum(SSTOption, k, "SST option")
                if key == SSTOption.GRADIENT:
                    v = to_enum(SSTGradient, v, "SST gradient")
                if key in _REAL_SST:
                    ctx._check(_cfg_set_f64(cfg, int(key), float(v)))
                else:
                    ctx._check(_cfg_set_i64(cfg, int(key), int(v)))
            out = c_void_p()
            ctx._check(_sst_create(inner._ptr, cfg, ctypes.byref(out)))
        finally:
            _cfg_free(cfg)
        from .model import _free as _model_free
        self._ctx = ctx
        self._objective = None
        self._params = None
        self.inner = inner
        self._init_handle(out.value, _model_free, inner)

    @property
    def method(self):
        return SSTMethod(_sst_method(self._ptr))

    def layers(self):
        """[(name, out, in, k, r)] of the converted blocks."""
        n = c_size_t()
        self._ctx._check(_sst_nlayers(self._ptr, ctypes.byref(n)))
        res = []
        for i in range(n.value):
            name, o, i_, k, r = c_char_p(), c_int64(), c_int64(), c_int64(), c_int64()
            self._ctx._check(_sst_info(self._ptr, i, ctypes.byref(name), ctypes.byref(o),
                                       ctypes.byref(i_), ctypes.byref(k), ctypes.byref(r)))
            res.append((name.value.decode(), o.value, i_.value, k.value, r.value))
        return res

    def active(self, layer):
        r = self.layers()[layer][4]
        out = (c_int64 * r)()
        self._ctx._check(_sst_active(self._ptr, int(layer), out))
        return list(out)

    def trainable_count(self):
        n = c_size_t()
        self._ctx._check(_sst_count(self._ptr, ctypes.byref(n)))
        return n.value

    def sync(self):
        self._ctx._check(_sst_sync(self._ptr))

    def resvd(self):
        self._ctx._check(_sst_resvd(self._ptr))

    def begin_step(self, step, optimizer=None):
        """Returns the learning-rate re-warm factor."""
        v = c_double()
        self._ctx._check(_sst_begin(self._ptr, int(step),
                                    optimizer._ptr if optimizer is not None else None,
                                    ctypes.byref(v)))
        return v.value

    def end_step(self):
        self._ctx._check(_sst_end(self._ptr))


def is_wrapper(model):
    return bool(_need(_sst_is, "hb_sst_is_wrapper")(model._ptr))


def inner_ptr(model):
    return _sst_inner(model._ptr)
