"""Errors: one exception class per status code, and the machinery that turns a negative
status into one, or re-raises an exception a Python callback raised during the C call.

Every class derives from `hessblock.Error` and also from the closest builtin (ValueError,
MemoryError, OSError, ...) so generic handlers work. `.status` is the C code, `.message`
the context's detailed message (hb_context_last_error) or hb_strerror when there is none.
"""
import ctypes
import threading

from ._lib import declare

_strerror = declare("hb_strerror", ctypes.c_char_p, [ctypes.c_int])
_last_error = declare("hb_context_last_error", ctypes.c_char_p, [ctypes.c_void_p])
_last_status = declare("hb_context_last_status", ctypes.c_int, [ctypes.c_void_p])


class Error(Exception):
    """Base of every libhessblock error. Attributes: status (int), message (str)."""
    status = None

    def __init__(self, message="", status=None):
        if status is not None:
            self.status = status
        self.message = message or strerror(self.status if self.status is not None else 0)
        super().__init__(self.message)

    def __str__(self):
        return "%s (status %s: %s)" % (self.message, self.status, strerror(self.status or 0))


# The codes, their values and messages come from the C library (HB_STATUS_MAP in
# include/hessblock/core.h, the one list): only the Python side of each code is written
# here, keyed by its C name. test_core.py checks that every C code has exactly one class.
_status_name = declare("hb_status_name", ctypes.c_char_p, [ctypes.c_int])


def _c_codes():
    """{C name: value} of every status code of the loaded library (0, -1, ... until
    hb_status_name answers NULL)."""
    codes, s = {}, 0
    while True:
        name = _status_name(s)
        if name is None:
            return codes
        codes[name.decode("ascii")] = s
        s -= 1


C_CODES = _c_codes()


def _cls(name, c_name, *bases, doc=""):
    if c_name not in C_CODES:
        raise ImportError("hessblock.errors: the C library has no status %s" % c_name)
    return type(name, (Error,) + bases, {"status": C_CODES[c_name], "__doc__": doc})


InvalidArgument = _cls("InvalidArgument", "HB_EINVAL", ValueError, doc="HB_EINVAL: invalid argument")
OutOfMemory = _cls("OutOfMemory", "HB_ENOMEM", MemoryError, doc="HB_ENOMEM: an allocation failed")
ShapeError = _cls("ShapeError", "HB_ESHAPE", ValueError, doc="HB_ESHAPE: shapes or lengths differ")
DtypeError = _cls("DtypeError", "HB_EDTYPE", TypeError, doc="HB_EDTYPE: unsupported element type")
NotFound = _cls("NotFound", "HB_ENOTFOUND", LookupError, doc="HB_ENOTFOUND: no such named thing")
NonFinite = _cls("NonFinite", "HB_ENONFINITE", ArithmeticError, doc="HB_ENONFINITE: NaN or Inf")
FileIOError = _cls("FileIOError", "HB_EIO", OSError,
                   doc="HB_EIO: a file could not be read/written")
FormatError = _cls("FormatError", "HB_EFORMAT", ValueError,
                   doc="HB_EFORMAT: corrupt or wrong format")
StateError = _cls("StateError", "HB_ESTATE", RuntimeError,
                  doc="HB_ESTATE: not valid in this state")
Unsupported = _cls("Unsupported", "HB_EUNSUPPORTED", NotImplementedError, doc="HB_EUNSUPPORTED")
RangeError = _cls("RangeError", "HB_ERANGE", IndexError, doc="HB_ERANGE: index out of range")
SizeOverflowError = _cls("SizeOverflowError", "HB_EOVERFLOW", OverflowError,
                         doc="HB_EOVERFLOW: a size computation would overflow")
CallbackError = _cls("CallbackError", "HB_ECALLBACK", RuntimeError,
                     doc="HB_ECALLBACK: a C-level callback reported failure")
Canceled = _cls("Canceled", "HB_ECANCELED", doc="HB_ECANCELED: a progress callback asked to stop")


class ClosedError(StateError, ValueError):
    """A handle was used after close() (status HB_ESTATE; raised by the bindings)."""


class ArgumentTypeError(InvalidArgument, TypeError):
    """An argument of the wrong Python type: a handle of another class where a specific
    one is expected (a Spectrum passed as a Model), a non-array where a numpy array is
    required, an object that is neither a name nor an integer where an enum is expected.
    Raised by the bindings before any C call (status HB_EINVAL): a TypeError, as Python
    code expects, and an InvalidArgument, as the rest of hessblock's argument errors."""


_BY_STATUS = {c.status: c for c in (
    InvalidArgument, OutOfMemory, ShapeError, DtypeError, NotFound, NonFinite, FileIOError,
    FormatError, StateError, Unsupported, RangeError, SizeOverflowError, CallbackError,
    Canceled)}


def error_class(status):
    """The exception class of a status code (Error for unknown codes)."""
    return _BY_STATUS.get(status, Error)


def strerror(status):
    """hb_strerror: the static description of a status code."""
    return _strerror(int(status)).decode("utf-8", "replace")


# ---- exceptions raised inside Python callbacks ----------------------------------------
# A callback that raises cannot unwind through C: the trampoline stores the exception
# here (per thread: callbacks run on the thread that made the C call) and returns nonzero;
# check() re-raises it once the C call has returned, whatever the status.
_pending = threading.local()


def store_exception(exc):
    """Record an exception raised in a callback (the first one wins)."""
    if getattr(_pending, "exc", None) is None:
        _pending.exc = exc


def take_exception():
    exc = getattr(_pending, "exc", None)
    _pending.exc = None
    return exc


def raise_status(status, ctx_ptr=None):
    """Raise the Error for a negative status with the context's detailed message."""
    msg = ""
    if ctx_ptr:
        if _last_status(ctx_ptr) == status:
            raw = _last_error(ctx_ptr)
            msg = raw.decode("utf-8", "replace") if raw else ""
    raise error_class(status)(msg, status)


def check(status, ctx_ptr=None):
    """After a C call: re-raise a stored callback exception, else raise for status < 0.
    Returns status otherwise."""
    exc = take_exception()
    if exc is not None:
        if status < 0:
            try:
                raise_status(status, ctx_ptr)
            except Error as e:
                # Keep the C side of the story next to the original exception.
                exc.__context__ = e
        raise exc
    if status < 0:
        raise_status(status, ctx_ptr)
    return status
