"""Core: versions, status codes, the Context (threads, seed, RNG, errors, log/progress)."""
import ctypes
import enum

import numpy as np

from . import _lib
from ._handle import Handle, type_error
from .errors import check, store_exception, InvalidArgument, C_CODES

c_void_p, c_int, c_int64, c_uint64, c_size_t, c_double, c_char_p = (
    ctypes.c_void_p, ctypes.c_int, ctypes.c_int64, ctypes.c_uint64, ctypes.c_size_t,
    ctypes.c_double, ctypes.c_char_p)
declare = _lib.declare


# Status: OK = 0, EINVAL = -1, ... made from the C library's one list of codes
# (HB_STATUS_MAP in include/hessblock/core.h, read through hb_status_name).
Status = enum.IntEnum("Status", [(name[3:], value) for name, value in C_CODES.items()],
                      module=__name__)
Status.__doc__ = "The status codes of libhessblock (HB_OK, HB_E*), from the C library."


class ContextOption(enum.IntEnum):
    THREADS = 1
    SEED = 2


class LogLevel(enum.IntEnum):
    ERROR = 1
    WARN = 2
    INFO = 3
    DEBUG = 4


class Distribution(enum.IntEnum):
    UNIFORM = 1
    NORMAL = 2
    RADEMACHER = 3


def to_enum(enum_cls, value, what):
    """Accept an enum member, an int or a (case-insensitive) name. Unknown names raise
    InvalidArgument here, other types ArgumentTypeError; unknown ints go to C unchanged (the library validates them, and
    values added by a newer library keep working)."""
    if isinstance(value, enum_cls):
        return value
    if isinstance(value, str):
        try:
            return enum_cls[value.upper()]
        except KeyError:
            raise InvalidArgument("unknown %s %r (one of %s)" % (
                what, value, ", ".join(m.name.lower() for m in enum_cls)), -1) from None
    try:
        v = int(value)
    except TypeError:   # not a number at all (None, a handle, an array...)
        raise type_error(what, "a %s member, its name or an integer" % enum_cls.__name__,
                         value) from None
    except (ValueError, OverflowError):
        raise InvalidArgument("unknown %s %r" % (what, value), -1) from None
    try:
        return enum_cls(v)
    except ValueError:
        return v


def _callable_or_none(fn, argname):
    """A callback argument: a callable, or None (removes the callback). Checked when it is
    installed, not when C first calls it (by then the mistake is far from its cause)."""
    if fn is not None and not callable(fn):
        raise type_error(argname, "a callable", fn, optional=True)
    return fn


class _Allocator(ctypes.Structure):
    _fields_ = [("struct_size", c_size_t),
                ("alloc", ctypes.CFUNCTYPE(c_void_p, c_void_p, c_size_t)),
                ("free", ctypes.CFUNCTYPE(None, c_void_p, c_void_p)),
                ("opaque", c_void_p)]


class _Comm(ctypes.Structure):
    """hb_comm (comm.h): the communicator hook. Only declared here (no Python-level
    wrapper yet: docs/scale-out.md); hessblock-mpi's hb_mpi_attach is C-only (it takes an
    MPI_Comm)."""
    _fields_ = [("struct_size", c_size_t),
                ("user", c_void_p),
                ("rank", c_int),
                ("size", c_int),
                ("allreduce_sum", ctypes.CFUNCTYPE(c_int, c_void_p, c_int, c_void_p, c_size_t)),
                ("bcast", ctypes.CFUNCTYPE(c_int, c_void_p, c_void_p, c_size_t, c_int)),
                ("allgather", ctypes.CFUNCTYPE(c_int, c_void_p, c_void_p, c_size_t, c_void_p)),
                ("barrier", ctypes.CFUNCTYPE(c_int, c_void_p)),
                ("release", ctypes.CFUNCTYPE(None, c_void_p))]


LOG_FN = ctypes.CFUNCTYPE(None, c_void_p, c_int, c_char_p)
PROGRESS_FN = ctypes.CFUNCTYPE(c_int, c_void_p, c_char_p, c_int64, c_int64)

_version_number = declare("hb_version_number", ctypes.c_uint, [])
_version_string = declare("hb_version_string", c_char_p, [])
_ctx_create = declare("hb_context_create", c_int, [ctypes.POINTER(c_void_p)])
_ctx_create_alloc = declare("hb_context_create_with_allocator", c_int,
                            [ctypes.POINTER(_Allocator), ctypes.POINTER(c_void_p)])
_ctx_free = declare("hb_context_free", None, [c_void_p])
_ctx_set_i64 = declare("hb_context_set_i64", c_int, [c_void_p, c_int, c_int64])
_ctx_get_i64 = declare("hb_context_get_i64", c_int, [c_void_p, c_int, ctypes.POINTER(c_int64)])
_ctx_last_error = declare("hb_context_last_error", c_char_p, [c_void_p])
_ctx_last_status = declare("hb_context_last_status", c_int, [c_void_p])
_ctx_set_log = declare("hb_context_set_log", c_int, [c_void_p, LOG_FN, c_void_p, c_int])
_ctx_set_progress = declare("hb_context_set_progress", c_int, [c_void_p, PROGRESS_FN, c_void_p])
_ctx_set_comm = declare("hb_context_set_comm", c_int, [c_void_p, ctypes.POINTER(_Comm)])
_ctx_next_stream = declare("hb_context_next_stream", c_int, [c_void_p, ctypes.POINTER(c_uint64)])
_random_fill = declare("hb_random_fill_f64", c_int,
                       [c_void_p, c_uint64, c_uint64, c_int, c_double, c_double,
                        ctypes.POINTER(c_double), c_size_t])


def version_number():
    """hb_version_number of the loaded library: MAJOR*10000 + MINOR*100 + PATCH."""
    return int(_version_number())


def version_string():
    """hb_version_string of the loaded library, e.g. '0.1.0'."""
    return _version_string().decode()


def library_path():
    """The path (or loader name) of the libhessblock that was loaded."""
    return _lib.path


class Context(Handle):
    """hb_context: allocator, threads, seed, last error, log and progress callbacks.

    Every other handle is made from a context and keeps it alive; closing a context
    closes everything made from it first.

    allocator: optional object with alloc(nbytes) -> int address (0 on failure) and
    free(address); every allocation of the library then goes through it (tests use this
    to inject allocation failures). An exception in alloc counts as failure (and is
    re-raised after the C call); in free it is re-raised after the call as well.
    """

    def __init__(self, threads=None, seed=None, allocator=None):
        out = c_void_p()
        keep = {}
        if allocator is None:
            check(_ctx_create(ctypes.byref(out)))
        else:
            if not (callable(getattr(allocator, "alloc", None))
                    and callable(getattr(allocator, "free", None))):
                raise type_error("allocator", "an object with alloc(nbytes) and free(address)",
                                 allocator, optional=True)
            def _alloc(opaque, nbytes, a=allocator):
                try:
                    return int(a.alloc(int(nbytes)) or 0) or None
                except BaseException as e:  # noqa: B902 - must never unwind into C
                    store_exception(e)
                    return None

            def _free(opaque, ptr, a=allocator):
                if not ptr:
                    return
                try:
                    a.free(int(ptr))
                except BaseException as e:
                    store_exception(e)

            st = _Allocator(ctypes.sizeof(_Allocator), _Allocator._fields_[1][1](_alloc),
                            _Allocator._fields_[2][1](_free), None)
            keep["allocator"] = (st, allocator)
            check(_ctx_create_alloc(ctypes.byref(st), ctypes.byref(out)))
        self._init_handle(out.value, _ctx_free, keep=keep)
        self._keep = keep
        if threads is not None:
            self.threads = threads
        if seed is not None:
            self.seed = seed

    # ---- errors
    def _check(self, status):
        return check(status, self._ptr)

    @property
    def last_error(self):
        """hb_context_last_error: message of the last failure on this context ('' if none)."""
        raw = _ctx_last_error(self._ptr)
        return raw.decode("utf-8", "replace") if raw else ""

    @property
    def last_status(self):
        """hb_context_last_status: status of the last failure (0 if none)."""
        return int(_ctx_last_status(self._ptr))

    # ---- options
    def set(self, key, value):
        """hb_context_set_i64 (key: ContextOption or 'threads'/'seed')."""
        self._check(_ctx_set_i64(self._ptr, to_enum(ContextOption, key, "context option"),
                                 int(value)))

    def get(self, key):
        """hb_context_get_i64."""
        v = c_int64()
        self._check(_ctx_get_i64(self._ptr, to_enum(ContextOption, key, "context option"),
                                 ctypes.byref(v)))
        return v.value

    threads = property(lambda self: self.get(ContextOption.THREADS),
                       lambda self, v: self.set(ContextOption.THREADS, v),
                       doc="Threads for BLIS and OpenMP loops (1..1024).")
    seed = property(lambda self: self.get(ContextOption.SEED),
                    lambda self, v: self.set(ContextOption.SEED, v),
                    doc="Seed of the random streams; setting it restarts the stream counter.")

    # ---- random numbers
    def next_stream(self):
        """hb_context_next_stream: a fresh stream id."""
        s = c_uint64()
        self._check(_ctx_next_stream(self._ptr, ctypes.byref(s)))
        return s.value

    def random(self, n=None, dist="uniform", a=0.0, b=1.0, stream=None, first=0, out=None):
        """hb_random_fill_f64 into a new float64 array of n numbers (or into `out`, a
        C-contiguous float64 array, zero-copy). stream defaults to next_stream().
        dist: 'uniform' U[a,b), 'normal' N(a, b), 'rademacher' ±1."""
        if out is None:
            if n is None:
                raise InvalidArgument("give n or out", -1)
            out = np.empty(int(n), dtype=np.float64)
        elif (not isinstance(out, np.ndarray) or out.dtype != np.float64
              or not out.flags.c_contiguous or not out.flags.writeable):
            raise InvalidArgument("out must be a writeable C-contiguous float64 array", -1)
        if stream is None:
            stream = self.next_stream()
        self._check(_random_fill(self._ptr, int(stream), int(first),
                                 to_enum(Distribution, dist, "distribution"), float(a), float(b),
                                 out.ctypes.data_as(ctypes.POINTER(c_double)), out.size))
        return out

    # ---- callbacks
    def set_log(self, fn, max_level=LogLevel.INFO):
        """Install fn(level: LogLevel, message: str) as the log callback (None removes it).
        An exception in fn is re-raised after the C call that logged."""
        _callable_or_none(fn, "fn")
        if fn is None:
            self._check(_ctx_set_log(self._ptr, LOG_FN(), None, int(max_level)))
            self._keep.pop("log", None)
            return

        def tramp(user, level, message):
            try:
                fn(LogLevel(level), message.decode("utf-8", "replace"))
            except BaseException as e:
                store_exception(e)

        cb = LOG_FN(tramp)
        self._check(_ctx_set_log(self._ptr, cb, None, int(to_enum(LogLevel, max_level, "log level"))))
        self._keep["log"] = cb

    def set_progress(self, fn):
        """Install fn(task: str, done: int, total: int) as the progress callback (None
        removes it). Returning False cancels the running call (it raises Canceled); an
        exception cancels it too and is re-raised after the call."""
        _callable_or_none(fn, "fn")
        if fn is None:
            self._check(_ctx_set_progress(self._ptr, PROGRESS_FN(), None))
            self._keep.pop("progress", None)
            return

        def tramp(user, task, done, total):
            try:
                r = fn(task.decode("utf-8", "replace"), int(done), int(total))
                return 1 if r is False else 0
            except BaseException as e:
                store_exception(e)
                return 1

        cb = PROGRESS_FN(tramp)
        self._check(_ctx_set_progress(self._ptr, cb, None))
        self._keep["progress"] = cb
