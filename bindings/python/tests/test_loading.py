"""Library discovery, version checks and binding completeness."""
import os
import re
import subprocess
import sys

import hessblock as hb
from conftest import REPO

PKG_DIR = os.path.dirname(os.path.dirname(hb.__file__))


def _import_with(env_lib):
    env = dict(os.environ, PYTHONPATH=PKG_DIR)
    if env_lib is None:
        env.pop("HESSBLOCK_LIBRARY", None)
    else:
        env["HESSBLOCK_LIBRARY"] = env_lib
    return subprocess.run([sys.executable, "-c", "import hessblock as h; print(h.library_path())"],
                          env=env, capture_output=True, text=True, timeout=60)


def test_version_matches_library_and_source():
    v = hb.version_number()
    assert v // 10000 == int(hb.__version__.split(".")[0])
    assert hb.version_string() == "%d.%d.%d" % (v // 10000, v // 100 % 100, v % 100)
    with open(os.path.join(REPO, "VERSION")) as f:
        assert f.read().strip() == hb.__version__   # one source of truth: VERSION


def test_env_variable_is_authoritative(tmp_path):
    missing = str(tmp_path / "nope" / "libhessblock.so")
    r = _import_with(missing)
    assert r.returncode != 0
    assert "ImportError" in r.stderr and missing in r.stderr and "no such file" in r.stderr
    # not a library at all
    junk = tmp_path / "libhessblock.so"
    junk.write_bytes(b"not an ELF file")
    r = _import_with(str(junk))
    assert r.returncode != 0 and "ImportError" in r.stderr and str(junk) in r.stderr


def test_env_variable_loads_that_library():
    r = _import_with(hb.library_path())
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == hb.library_path()


def test_wrong_library_is_rejected(tmp_path):
    # A real shared library that is not libhessblock (libm) must be refused by name.
    import ctypes.util
    libm = ctypes.util.find_library("m")
    r = _import_with(libm)
    assert r.returncode != 0 and "hb_version_number" in r.stderr


def test_fallback_lists_everything_tried(tmp_path):
    # Copy the package where no build tree is next to it: the error names each attempt.
    import shutil
    dst = tmp_path / "pkg"
    shutil.copytree(os.path.join(PKG_DIR, "hessblock"), dst / "hessblock",
                    ignore=shutil.ignore_patterns("_build_config.py", "__pycache__"))
    env = dict(os.environ, PYTHONPATH=str(dst), LD_LIBRARY_PATH="")
    env.pop("HESSBLOCK_LIBRARY", None)
    r = subprocess.run([sys.executable, "-c", "import hessblock"], env=env, capture_output=True,
                       text=True, timeout=60)
    if r.returncode == 0:
        # a libhessblock is installed system-wide: the system loader found it, fine.
        return
    assert "build tree" in r.stderr and "system loader" in r.stderr
    assert "HESSBLOCK_LIBRARY" in r.stderr


def _public_functions():
    names = set()
    inc = os.path.join(REPO, "include", "hessblock")
    for f in os.listdir(inc):
        # mpi.h is libhessblock-mpi's (takes an MPI_Comm): not part of the bound library.
        if f.endswith(".h") and f != "mpi.h":
            text = open(os.path.join(inc, f)).read()
            names.update(re.findall(r"HB_API[^;(]*?\b(hb_\w+)\s*\(", text, re.S))
    return names


def test_every_public_function_is_bound():
    import importlib
    for mod in hb.components:
        importlib.import_module("hessblock." + mod)
    names = _public_functions()
    assert len(names) > 50   # the parse found the headers
    declared = hb._declared()
    missing = sorted(n for n in names if declared.get(n) is None)
    assert not missing, "public functions without a binding: %s" % missing


ENUM_PREFIXES = [  # C prefix -> Python enum (longest prefixes first)
    ("HB_OPTIM_", "OptimizerKind"), ("HB_OPT_", "OptimizerOption"),
    ("HB_CTX_", "ContextOption"), ("HB_LOG_", "LogLevel"), ("HB_DIST_", "Distribution"),
    ("HB_BLOCK_", "BlockKind"), ("HB_INIT_", "Init"), ("HB_MODEL_", "ModelKind"),
    ("HB_MK_", "ModelKey"), ("HB_ACT_", "Activation"), ("HB_QUAD_", "QuadraticFamily"),
    ("HB_SLQ_", "SLQOption"), ("HB_REORTH_", "Reorth"), ("HB_PROBE_", "Probe"),
    ("HB_EIG_", "EigWhich"), ("HB_JS_GRID_", "JSGrid"), ("HB_SST_GRAD_", "SSTGradient"),
    ("HB_SST_RESET_", "SSTReset"), ("HB_SST_METHOD_", "SSTMethod"),
    ("HB_SST_", ("SSTMethod", "SSTOption")), ("HB_TR_", "TrainerOption"),
    ("HB_REC_", "RecordKey"), ("HB_BATCH_", "BatchPart"), ("HB_POOL_", "Pool"),
    ("HB_CKDATA_", "CheckpointData"), ("HB_CK_", "CheckpointKey"),
    ("HB_SPLIT_", "TextSplit")]


def test_every_public_enum_value_is_mirrored():
    """Each `HB_X = n` of the headers' enums has a Python enum member of the same value."""
    inc = os.path.join(REPO, "include", "hessblock")
    missing, checked = [], 0
    for f in sorted(os.listdir(inc)):
        if not f.endswith(".h"):
            continue
        for body in re.findall(r"enum\s*\w*\s*\{(.*?)\}", open(os.path.join(inc, f)).read(), re.S):
            body = re.sub(r"/\*.*?\*/", "", body, flags=re.S)
            for name, val in re.findall(r"\b(HB_\w+)\s*=\s*(-?\d+)", body):
                val = int(val)
                if name in ("HB_F32", "HB_F64", "HB_BF16", "HB_I32"):
                    py = hb.DType
                    member = name[3:]
                elif name == "HB_OK" or re.match(r"HB_E[A-Z]+$", name):
                    py, member = hb.Status, name[3:]
                else:
                    pre = next((p for p in ENUM_PREFIXES if name.startswith(p[0])), None)
                    if pre is None:
                        missing.append("%s (no Python enum for its prefix)" % name)
                        continue
                    member = name[len(pre[0]):]
                    cands = [getattr(hb, e) for e in (pre[1] if isinstance(pre[1], tuple) else (pre[1],))]
                    py = next((e for e in cands if member in e.__members__), cands[0])
                checked += 1
                if member not in py.__members__ or py[member] != val:
                    missing.append("%s = %d (%s.%s)" % (name, val, py.__name__, member))
    assert checked > 100, checked   # the parse found the enums
    assert not missing, missing


def test_major_version_mismatch_is_refused(tmp_path):
    # A library that claims another major version: built here with the C compiler that
    # built libhessblock (tests run under meson, so one exists).
    import shutil
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    assert cc, "no C compiler found to build the fake library"
    src = tmp_path / "fake.c"
    src.write_text("unsigned hb_version_number(void) { return 990102; }\n")
    lib = tmp_path / "libhessblock.so"
    subprocess.run([cc, "-shared", "-fPIC", "-o", str(lib), str(src)], check=True, timeout=120)
    r = _import_with(str(lib))
    assert r.returncode != 0
    assert "version 99.1.2" in r.stderr and "need major %s" % hb.__version__.split(".")[0] in r.stderr


def test_meson_installs_every_module():
    pkg = os.path.join(PKG_DIR, "hessblock")
    modules = sorted(f for f in os.listdir(pkg) if f.endswith(".py") and f != "_build_config.py")
    listed = open(os.path.join(PKG_DIR, "meson.build")).read()
    assert [m for m in modules if "'hessblock/%s'" % m not in listed] == []
