"""keylab's public names: the lazy export table and __all__ agree, and each name resolves."""

import keylab


def test_all_matches_lazy_exports() -> None:
    assert sorted(keylab.__all__) == sorted(keylab._EXPORTS)


def test_every_export_resolves() -> None:
    for name in keylab.__all__:
        assert getattr(keylab, name) is not None, name


def test_importing_keylab_and_the_control_client_loads_no_server() -> None:
    """Lessons and the CLI import these on every run: they must not pay for uvicorn or Starlette."""
    import subprocess
    import sys

    code = ("import sys, keylab, keylab.lessons, keylab.sandbox.client; "
            "print(sorted(m for m in ('uvicorn', 'starlette') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
