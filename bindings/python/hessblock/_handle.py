"""Lifetime machinery shared by every handle class.

A `_Resource` owns one C object. It is released (its C free function called, once) when
it is closed AND nothing pins it. Pins are held by
  * child resources (a Params pins its Context, a Model pins its Context, a borrowed
    Params pins its Model): a C object is never freed before the objects made from it;
  * numpy views of its memory (the view's base object holds the pin until numpy drops it):
    closing a handle whose memory is still viewed by numpy defers the free until the last
    view is gone, so a view can never read freed memory.
`Handle.close()` closes the handle's live children first (a Context closes everything
made from it), then its resource. Any later use of the handle raises ClosedError.
"""
import atexit
import threading
import weakref

import numpy as np

from .errors import ArgumentTypeError, ClosedError, take_exception

_lock = threading.RLock()


class _Resource:
    __slots__ = ("ptr", "free_fn", "parent", "pins", "closed", "released", "name", "keep",
                 "__weakref__")

    def __init__(self, ptr, free_fn, parent, name, keep=None):
        self.ptr = ptr
        self.free_fn = free_fn      # None: borrowed (freed by its parent's C object)
        self.parent = parent
        self.pins = 0
        self.closed = False
        self.released = False
        self.name = name
        self.keep = keep            # Python objects C may still call (callbacks)
        if parent is not None:
            parent.pin()

    def pin(self):
        with _lock:
            if self.released:
                raise ClosedError("%s is closed" % self.name)
            self.pins += 1

    def unpin(self):
        with _lock:
            self.pins -= 1
            self._maybe_release()

    def close(self):
        with _lock:
            if self.closed:
                return
            self.closed = True
            self._maybe_release()

    def _maybe_release(self):
        if self.closed and self.pins == 0 and not self.released:
            self.released = True
            ptr, self.ptr = self.ptr, None
            if self.free_fn is not None and ptr:
                self.free_fn(ptr)
            exc = take_exception()   # e.g. a Python allocator's free hook raised
            self.keep = None
            if self.parent is not None:
                parent, self.parent = self.parent, None
                parent.unpin()
            if exc is not None:
                raise exc


class _Pin:
    """Base object of a numpy view: holds a pin on a resource while numpy holds it."""
    __slots__ = ("res", "__array_interface__", "__weakref__")

    def __init__(self, res, address, shape, typestr, readonly):
        res.pin()
        self.res = res
        self.__array_interface__ = {"data": (address, readonly), "shape": tuple(shape),
                                    "typestr": typestr, "version": 3}

    def __del__(self):
        res = getattr(self, "res", None)
        if res is not None:
            self.res = None
            res.unpin()


def view(res, address, shape, dtype, readonly=False):
    """A numpy array over C memory at `address`, keeping `res` alive while it exists."""
    dtype = np.dtype(dtype)
    arr = np.asarray(_Pin(res, address, shape, dtype.str, readonly))
    assert arr.dtype == dtype
    return arr


_live = weakref.WeakSet()   # root handles still open, closed at interpreter exit


class Handle:
    """Base class of the Pythonic handles: close(), context manager, closed, children."""
    _res = None

    def _init_handle(self, ptr, free_fn, parent=None, name=None, keep=None):
        self._children = weakref.WeakSet()
        self._parent = parent        # a strong reference: the child keeps its parent alive
        self._res = _Resource(ptr, free_fn, parent._res if parent is not None else None,
                              name or type(self).__name__, keep)
        if parent is not None:
            parent._children.add(self)
        else:
            _live.add(self)

    @property
    def _ptr(self):
        res = self._res
        if res is None or res.closed:
            raise ClosedError("%s is closed" % type(self).__name__)
        return res.ptr

    @property
    def _as_parameter_(self):  # lets a handle be passed to ctypes functions directly
        return self._ptr

    @property
    def closed(self):
        return self._res is None or self._res.closed

    def close(self):
        """Free the C object now (deferred while numpy views of its memory live).
        Closes every live handle made from this one first. Idempotent."""
        res = self._res
        if res is None or res.closed:
            return
        for child in list(getattr(self, "_children", ())):
            child.close()
        res.close()

    def __enter__(self):
        if self.closed:
            raise ClosedError("%s is closed" % type(self).__name__)
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def __repr__(self):
        state = "closed" if self.closed else "open"
        return "<hessblock.%s %s>" % (type(self).__name__, state)


# ---- type checks of handle arguments ------------------------------------------------
# ctypes declares every handle parameter as c_void_p, so C cannot tell a Model from a
# Spectrum: a wrong handle would be reinterpreted as the expected struct (crashes, writes
# into the wrong object). Every binding that passes ANOTHER object's pointer to C gets
# it through require(), never by reading `._ptr` of an unchecked object.

def _class_names(cls):
    classes = cls if isinstance(cls, tuple) else (cls,)
    return " or ".join("hessblock." + c.__name__ for c in classes)


def _given(obj):
    t = type(obj)
    if t.__module__ in ("builtins", None):
        return t.__name__
    if t.__module__.split(".")[0] == "hessblock":
        return "hessblock." + t.__qualname__     # as the user spells it: hb.SLQ
    return "%s.%s" % (t.__module__, t.__qualname__)


def type_error(argname, expected, obj, optional=False):
    """The ArgumentTypeError for argument `argname`: `obj` is not a(n) `expected`.
    expected: a class, a tuple of classes or a description (str)."""
    what = expected if isinstance(expected, str) else _class_names(expected)
    if optional:
        what += " or None"
    return ArgumentTypeError("%s must be %s, got %s" % (argname, what, _given(obj)), -1)


def expect(obj, cls, argname, optional=False):
    """`obj` itself if it is an instance of `cls` (a Handle class or a tuple of them),
    or None when `optional` and obj is None; else raise ArgumentTypeError naming the
    expected and the given class."""
    if obj is None and optional:
        return None
    if not isinstance(obj, cls):
        raise type_error(argname, cls, obj, optional)
    return obj


def require(obj, cls, argname, optional=False):
    """The C pointer of handle `obj` after expect(obj, cls, argname, optional): None for
    an optional None; ClosedError if the handle is closed."""
    obj = expect(obj, cls, argname, optional)
    return None if obj is None else obj._ptr


@atexit.register
def _close_all():
    for h in list(_live):
        try:
            h.close()
        except Exception:
            pass
