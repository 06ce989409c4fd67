"""setuptools glue for `pip install ./bindings/python`; the metadata is in pyproject.toml.

Why a setup.py at all: a pip-installed copy of the package has no build tree next to it
(hessblock/_lib.py looks for <repo>/build relative to its own file), so at build time we
record where the library of THIS checkout is: its meson build tree and the prefix that
build installs to (meson-info). The record is hessblock/_pip_config.py, written only into
the built package, never into the source tree. HESSBLOCK_BUILD_DIR chooses another build
directory than <repo>/build (e.g. `meson setup build-release`).
"""
import json
import os

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))


def _build_dir():
    d = os.environ.get("HESSBLOCK_BUILD_DIR")
    return os.path.abspath(d) if d else os.path.normpath(os.path.join(HERE, "..", "..", "build"))


def _meson_prefix_libdir(build):
    """prefix/libdir of the meson build (where `meson install` puts the library), or ''."""
    try:
        with open(os.path.join(build, "meson-info", "intro-buildoptions.json")) as f:
            opts = {o["name"]: o["value"] for o in json.load(f)}
        libdir = opts["libdir"]
        return libdir if os.path.isabs(libdir) else os.path.join(opts["prefix"], libdir)
    except (OSError, ValueError, KeyError, TypeError):
        return ""


class build_py_with_config(build_py):
    def run(self):
        super().run()
        build = _build_dir()
        path = os.path.join(self.build_lib, "hessblock", "_pip_config.py")
        with open(path, "w") as f:
            f.write("# Written by bindings/python/setup.py at pip-install time.\n")
            f.write("BUILD_LIBDIR = %r   # the meson build tree's lib/\n" % os.path.join(build, "lib"))
            f.write("PREFIX_LIBDIR = %r   # where that build installs the library\n"
                    % _meson_prefix_libdir(build))


setup(cmdclass={"build_py": build_py_with_config})
