"""`pip install ./bindings/python` into a fresh virtual environment, offline (no index, no
build isolation: Debian's setuptools and wheel), then an analysis run from it (issue 14.1).
No network and no torch needed: this runs in CI."""
import os
import shutil
import subprocess
import sys

import pytest

import hessblock as hb
from conftest import REPO

SRC = os.path.join(REPO, "bindings", "python")


def _run(cmd, env, cwd, timeout=300):
    r = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    return r


@pytest.fixture(scope="module")
def venv_env(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("pip")
    # a copy of the package source, so that setuptools' build/ and *.egg-info stay out of
    # the checkout; HESSBLOCK_BUILD_DIR tells setup.py which meson build to record
    src = tmp / "src"
    shutil.copytree(SRC, src, ignore=shutil.ignore_patterns(
        "build", "*.egg-info", "__pycache__", "tests", "_build_config.py"))
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "HESSBLOCK_LIBRARY", "PIP_INDEX_URL", "PIP_FIND_LINKS")}
    env.update(PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1", PYTHONDONTWRITEBYTECODE="1")
    venv = tmp / "venv"
    # --without-pip: the system pip (visible through --system-site-packages) installs into
    # the venv's prefix; ensurepip would only copy the same pip again
    r = _run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)],
             env, str(tmp))
    assert r.returncode == 0, r.stderr
    py = str(venv / "bin" / "python")
    return tmp, src, env, py


def _install(venv_env, build_dir, again=False):
    tmp, src, env, py = venv_env
    env = dict(env, HESSBLOCK_BUILD_DIR=build_dir)
    # the documented command (docs/python.md); a second install replaces the first
    extra = ["--force-reinstall", "--no-deps"] if again else []
    r = _run([py, "-m", "pip", "install", "--no-index", "--no-build-isolation", "--quiet"] + extra
             + [str(src)], env, str(tmp))
    assert r.returncode == 0, r.stdout + r.stderr
    return env


ANALYSIS = r"""
import os, sys
import hessblock as hb
assert os.path.realpath(hb.__file__).startswith(os.path.realpath(sys.prefix)), hb.__file__
print(hb.library_path())
with hb.Context(seed=0) as ctx, hb.Model(ctx, "quadratic", quad_blocks=3, quad_block_size=20) as m:
    r = hb.study.spectrum(m, probes=4, steps=20, full=False)
    assert r["js"].shape == (3, 3) and 0 < r["js_mean"] <= 1
    print("js_mean %.6f" % r["js_mean"])
"""


def test_pip_install_into_a_venv_and_analyse(venv_env):
    lib = hb.library_path()
    build_dir = os.path.dirname(os.path.dirname(os.path.realpath(lib)))   # <build>/lib/…
    env = _install(venv_env, build_dir)
    tmp, _, _, py = venv_env
    # from outside the checkout, no PYTHONPATH, no HESSBLOCK_LIBRARY: the recorded build tree
    r = _run([py, "-c", ANALYSIS], env, str(tmp))
    assert r.returncode == 0, r.stderr
    loaded, js = r.stdout.split("\n")[:2]
    assert os.path.dirname(os.path.realpath(loaded)) == os.path.join(build_dir, "lib")
    assert js.startswith("js_mean ")
    # $HESSBLOCK_LIBRARY still wins over what pip recorded
    r = _run([py, "-c", "import hessblock as h; print(h.library_path())"],
             dict(env, HESSBLOCK_LIBRARY=lib), str(tmp))
    assert r.returncode == 0 and r.stdout.strip() == lib, r.stderr


def test_pip_installed_package_names_all_three_ways_when_nothing_loads(venv_env):
    tmp, _, _, py = venv_env
    env = _install(venv_env, str(tmp / "no-such-build"), again=True)
    env["LD_LIBRARY_PATH"] = ""
    r = _run([py, "-c", "import hessblock"], env, str(tmp))
    if r.returncode == 0:
        return   # a libhessblock is installed system-wide: the system loader found it, fine
    err = r.stderr
    assert "build tree (recorded by pip)" in err and "no-such-build" in err
    assert "install prefix" in err and "system loader" in err
    # the closing hint names the three ways
    assert "HESSBLOCK_LIBRARY" in err and "install it into a prefix" in err
    assert "build it in the source tree" in err
