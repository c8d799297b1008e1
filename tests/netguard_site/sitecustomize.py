"""Loaded at start-up by every Python process a test starts (``PYTHONPATH`` points here): puts
the test session's network guard (``tests/netguard.py``) into that process too."""

import os

if os.environ.get("ASSISTANT_TEST_NETGUARD_LOG"):
    import importlib.util

    _spec = importlib.util.spec_from_file_location(
        "_assistant_test_netguard", os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "netguard.py")
    )
    _guard = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(_guard)
    _guard.install(os.environ["ASSISTANT_TEST_NETGUARD_LOG"])
