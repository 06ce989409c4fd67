"""The training loop (train.h): Trainer runs optimizer steps over a model and records
loss, gradient norm, learning rate, weight norms and held-out evaluations per step.

    with hb.Trainer(model, opt, eval_every=10) as tr:
        tr.run(100)
        h = tr.history()            # {'loss': array, 'eval_loss': array, ...}
"""
import ctypes
import enum
import os

import numpy as np

from . import _lib
from ._handle import Handle, require
from .core import _callable_or_none, to_enum
from .model import Model
from .optim import Optimizer
from .errors import Unsupported, store_exception

c_void_p, c_int, c_int64, c_size_t, c_double, c_char_p = (
    ctypes.c_void_p, ctypes.c_int, ctypes.c_int64, ctypes.c_size_t, ctypes.c_double,
    ctypes.c_char_p)
P = ctypes.POINTER
PD = P(c_double)


declare = _lib.declare_optional  # this component may be absent from the library


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


_REAL = {TrainerOption.LR}
DATA_FN = ctypes.CFUNCTYPE(c_int, c_void_p, c_void_p, c_int64)

_create = declare("hb_trainer_create", c_int, [c_void_p, c_void_p, P(c_void_p)])
_free = declare("hb_trainer_free", None, [c_void_p])
_set_i64 = declare("hb_trainer_set_i64", c_int, [c_void_p, c_int, c_int64])
_set_f64 = declare("hb_trainer_set_f64", c_int, [c_void_p, c_int, c_double])
_get_i64 = declare("hb_trainer_get_i64", c_int, [c_void_p, c_int, P(c_int64)])
_get_f64 = declare("hb_trainer_get_f64", c_int, [c_void_p, c_int, PD])
_set_data_fn = declare("hb_trainer_set_data_fn", c_int, [c_void_p, DATA_FN, c_void_p])
_set_eval_fn = declare("hb_trainer_set_eval_fn", c_int, [c_void_p, DATA_FN, c_void_p])
_set_checkpoint = declare("hb_trainer_set_checkpoint", c_int, [c_void_p, c_char_p, c_int64])
_run = declare("hb_trainer_run", c_int, [c_void_p, c_int64])
_step = declare("hb_trainer_step", c_int64, [c_void_p])
_evaluate = declare("hb_trainer_evaluate", c_int, [c_void_p, PD, PD])
_num_records = declare("hb_trainer_num_records", c_size_t, [c_void_p])
_record = declare("hb_trainer_record_f64", c_int, [c_void_p, c_size_t, c_int, PD])
_block_norm = declare("hb_trainer_record_block_norm", c_int, [c_void_p, c_size_t, c_size_t, PD])
_records = declare("hb_trainer_records_f64", c_int, [c_void_p, c_int, c_size_t, c_size_t, PD])

AVAILABLE = _create is not None


class Trainer(Handle):
    """hb_trainer over a Model and an optional Optimizer (None: built-in GD step with
    lr = TrainerOption.LR). It keeps both alive, and closes when either is closed.
    Options as keyword arguments or trainer['eval_every'] = 10."""

    def __init__(self, model, optimizer=None, **options):
        if _create is None:
            raise Unsupported("hb_trainer_create is not in the loaded libhessblock (%s)"
                              % _lib.path, -10)
        model_ptr = require(model, Model, "model")
        opt_ptr = require(optimizer, Optimizer, "optimizer", optional=True)
        out = c_void_p()
        model._check(_create(model_ptr, opt_ptr, ctypes.byref(out)))
        self._ctx = model.context
        self._model = model
        self._optimizer = optimizer
        self._keep = {}
        self._init_handle(out.value, _free, optimizer if optimizer is not None else model,
                          keep=self._keep)
        for k, v in options.items():
            self[k] = v

    def _check(self, st):
        return self._ctx._check(st)

    @property
    def model(self):
        return self._model

    @property
    def optimizer(self):
        return self._optimizer

    def __setitem__(self, key, value):
        key = to_enum(TrainerOption, key, "trainer option")
        if key in _REAL:
            self._check(_set_f64(self._ptr, key, float(value)))
        else:
            self._check(_set_i64(self._ptr, key, int(value)))

    def __getitem__(self, key):
        key = to_enum(TrainerOption, key, "trainer option")
        if key in _REAL:
            v = c_double()
            self._check(_get_f64(self._ptr, key, ctypes.byref(v)))
        else:
            v = c_int64()
            self._check(_get_i64(self._ptr, key, ctypes.byref(v)))
        return v.value

    def set_i64(self, key, value):
        self._check(_set_i64(self._ptr, to_enum(TrainerOption, key, "trainer option"), int(value)))

    def set_f64(self, key, value):
        self._check(_set_f64(self._ptr, to_enum(TrainerOption, key, "trainer option"), float(value)))

    def get_i64(self, key):
        v = c_int64()
        self._check(_get_i64(self._ptr, to_enum(TrainerOption, key, "trainer option"), ctypes.byref(v)))
        return v.value

    def get_f64(self, key):
        v = c_double()
        self._check(_get_f64(self._ptr, to_enum(TrainerOption, key, "trainer option"), ctypes.byref(v)))
        return v.value

    def _data_cb(self, setter, slot, fn):
        _callable_or_none(fn, "fn")
        if fn is None:
            self._check(setter(self._ptr, DATA_FN(), None))
            self._keep.pop(slot, None)
            return
        model = self._model

        def tramp(user, m, step):
            try:
                r = fn(model, int(step))
                return 1 if r is False else 0
            except BaseException as e:
                store_exception(e)
                return 1

        cb = DATA_FN(tramp)
        self._check(setter(self._ptr, cb, None))
        self._keep[slot] = cb

    def set_data_fn(self, fn):
        """fn(model, step) sets the model's data for `step` (e.g. model.set_batch(...));
        returning False or raising fails the run (the exception is re-raised)."""
        self._data_cb(_set_data_fn, "data", fn)

    def set_eval_fn(self, fn):
        """fn(model, step) sets held-out data before an evaluation."""
        self._data_cb(_set_eval_fn, "eval", fn)

    def set_checkpoint(self, path, every):
        """hb_trainer_set_checkpoint: save to path every `every` steps (0: never)."""
        self._check(_set_checkpoint(self._ptr, os.fsencode(path) if path is not None else None,
                                    int(every)))

    def run(self, steps):
        """hb_trainer_run: `steps` more steps. Progress goes to the context's progress
        callback ('train', step, total)."""
        self._check(_run(self._ptr, int(steps)))

    @property
    def step(self):
        return int(_step(self._ptr))

    def evaluate(self):
        """hb_trainer_evaluate: (held-out loss, accuracy or NaN)."""
        loss, acc = c_double(), c_double()
        self._check(_evaluate(self._ptr, ctypes.byref(loss), ctypes.byref(acc)))
        return loss.value, acc.value

    @property
    def num_records(self):
        return int(_num_records(self._ptr))

    def __len__(self):
        return self.num_records

    def record(self, i, key):
        """hb_trainer_record_f64: one value of record i."""
        v = c_double()
        self._check(_record(self._ptr, int(i), int(to_enum(RecordKey, key, "record key")),
                            ctypes.byref(v)))
        return v.value

    def records(self, key, first=0, n=None):
        """hb_trainer_records_f64 as a float64 array."""
        if n is None:
            n = self.num_records - int(first)
        out = np.zeros(max(int(n), 0))
        if n > 0:
            self._check(_records(self._ptr, int(to_enum(RecordKey, key, "record key")), int(first),
                                 int(n), out.ctypes.data_as(PD)))
        return out

    def block_norm(self, i, block):
        """hb_trainer_record_block_norm: ‖θ_b‖₂ at step i."""
        v = c_double()
        self._check(_block_norm(self._ptr, int(i), self._model.params.index(block), ctypes.byref(v)))
        return v.value

    def history(self):
        """Every record key as an array over all records: {'loss': ..., 'eval_loss': ...}."""
        return {k.name.lower(): self.records(k) for k in RecordKey}
