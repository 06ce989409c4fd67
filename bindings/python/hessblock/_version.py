# The version of the bindings. Must equal the repository's VERSION file (checked by
# tests/test_core.py::test_version_matches_source); the loaded library's major version
# must equal this major (checked at import).
__version__ = "0.1.0"
VERSION_MAJOR = int(__version__.split(".")[0])
