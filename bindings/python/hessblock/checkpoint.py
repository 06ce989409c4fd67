"""Checkpoints (checkpoint.h): parameters + optimizer state + step count in one file or
buffer. `hb.checkpoint.save(path, params, opt)`, `load`, `to_bytes`, `from_bytes`, `size`.

What a checkpoint says about itself, without the objects (format 2.1):
`info = hb.CheckpointInfo.read(ctx, path)` (or `CheckpointInfo.from_bytes(ctx, data)`),
`info[CheckpointKey.MODEL_SEED]` / `info['model_seed']`, and `info.model_config()`, the
hb_model_config recorded by a checkpoint of a model made by hb_model_create (None when the
file has no model section)."""
import ctypes
import enum
import os
from ctypes import POINTER as P, c_char_p, c_int, c_int64, c_size_t, c_void_p

from . import _lib
from ._handle import Handle, require
from .core import Context, to_enum
from .errors import NotFound
from .model import ModelConfig, ModelKind, _cfg_free
from .optim import (save_checkpoint as save, load_checkpoint as load,  # noqa: F401
                    checkpoint_size as size, checkpoint_bytes as to_bytes,
                    load_checkpoint_bytes as from_bytes, CHECKPOINT_AVAILABLE as AVAILABLE)

declare = _lib.declare_optional


class CheckpointKey(enum.IntEnum):
    """hb_checkpoint_key: the facts hb_checkpoint_info_get_i64 reports."""
    VERSION_MAJOR = 1
    VERSION_MINOR = 2
    DTYPE = 3
    NUM_PARAMS = 4
    NUM_BLOCKS = 5
    HAS_OPTIMIZER = 6
    OPTIMIZER_KIND = 7
    STEP = 8
    HAS_MODEL = 10
    MODEL_KIND = 11
    MODEL_SEED = 12
    MODEL_STREAM = 13
    DATA = 20
    DATA_SEED = 21
    DATA_STREAM = 22
    DATA_BATCHES = 23
    DATA_FIRST = 24


class CheckpointData(enum.IntEnum):
    """hb_checkpoint_data: what the checkpointed model's data was."""
    NONE = 0
    SYNTHETIC = 1
    EXTERNAL = 2


_info_read = declare("hb_checkpoint_info_read", c_int, [c_void_p, c_char_p, P(c_void_p)])
_info_read_buf = declare("hb_checkpoint_info_read_buffer", c_int,
                         [c_void_p, c_void_p, c_size_t, P(c_void_p)])
_info_free = declare("hb_checkpoint_info_free", None, [c_void_p])
_info_get = declare("hb_checkpoint_info_get_i64", c_int, [c_void_p, c_int, P(c_int64)])
_info_cfg = declare("hb_checkpoint_info_model_config", c_int, [c_void_p, P(c_void_p)])


class CheckpointInfo(Handle):
    """hb_checkpoint_info: a checkpoint's version, layout, optimizer step and (format 2.1)
    the configuration, seeds and data of the model it was saved from. Made by
    CheckpointInfo.read(ctx, path) or CheckpointInfo.from_bytes(ctx, data)."""

    def __init__(self, *args, **kwargs):
        raise TypeError("use CheckpointInfo.read(ctx, path) or CheckpointInfo.from_bytes(ctx, data)")

    @classmethod
    def _adopt(cls, ctx, ptr):
        self = cls.__new__(cls)
        self._ctx = ctx
        self._init_handle(ptr, _info_free, ctx)
        return self

    @classmethod
    def read(cls, ctx, path):
        """hb_checkpoint_info_read: validate the file at path and keep its facts."""
        ctx_ptr = require(ctx, Context, "ctx")
        out = c_void_p()
        ctx._check(_info_read(ctx_ptr, os.fsencode(path), ctypes.byref(out)))
        return cls._adopt(ctx, out.value)

    @classmethod
    def from_bytes(cls, ctx, data):
        """hb_checkpoint_info_read_buffer from a bytes-like object."""
        ctx_ptr = require(ctx, Context, "ctx")
        data = bytes(memoryview(data))
        out = c_void_p()
        ctx._check(_info_read_buf(ctx_ptr, data, len(data), ctypes.byref(out)))
        return cls._adopt(ctx, out.value)

    def __getitem__(self, key):
        """hb_checkpoint_info_get_i64 (NotFound when the file has no such value)."""
        v = c_int64()
        self._ctx._check(_info_get(self._ptr, int(to_enum(CheckpointKey, key, "checkpoint key")),
                                   ctypes.byref(v)))
        return v.value

    def get(self, key, default=None):
        try:
            return self[key]
        except NotFound:
            return default

    def model_config(self):
        """hb_checkpoint_info_model_config as a ModelConfig, or None without a model section."""
        if not self[CheckpointKey.HAS_MODEL]:
            return None
        out = c_void_p()
        self._ctx._check(_info_cfg(self._ptr, ctypes.byref(out)))
        cfg = ModelConfig.__new__(ModelConfig)
        cfg._ctx = self._ctx
        cfg.kind = ModelKind(self[CheckpointKey.MODEL_KIND])
        cfg._init_handle(out.value, _cfg_free, self._ctx)
        return cfg


Info = CheckpointInfo
