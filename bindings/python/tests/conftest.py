"""Shared fixtures and the skip policy.

Policy: the only acceptable skips are missing OPTIONAL dependencies (matplotlib, torch),
requested through `optional(module)`, whose reason starts with OPTIONAL. Any other skip,
and an empty collection (pytest's exit code 5), fail the session.
"""
import gc
import os

import pytest

OPTIONAL = "optional dependency missing:"

REPO = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))


def optional(module):
    """Import an optional dependency or skip the test with the sanctioned reason."""
    return pytest.importorskip(module, reason="%s %s" % (OPTIONAL, module))


_bad_skips = []


def pytest_runtest_logreport(report):
    if report.skipped and not hasattr(report, "wasxfail"):
        reason = str(report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr)
        if OPTIONAL not in reason:
            _bad_skips.append("%s: %s" % (report.nodeid, reason))


def pytest_sessionfinish(session, exitstatus):
    if session.testscollected == 0:
        session.exitstatus = 1
    elif _bad_skips:
        session.exitstatus = 1


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if _bad_skips:
        terminalreporter.write_line("FAILED by skip policy (only optional deps may skip):", red=True)
        for s in _bad_skips:
            terminalreporter.write_line("  " + s, red=True)


@pytest.fixture
def hb():
    import hessblock
    return hessblock


@pytest.fixture
def ctx(hb):
    c = hb.Context(seed=1234)
    yield c
    c.close()
    gc.collect()


@pytest.fixture
def rng():
    import numpy as np
    return np.random.default_rng(20261125)
