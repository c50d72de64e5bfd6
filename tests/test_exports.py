"""keylab's public names: the lazy export table and __all__ agree, and each name resolves."""

import keylab


def test_all_matches_lazy_exports() -> None:
    assert sorted(keylab.__all__) == sorted(keylab._EXPORTS)


def test_every_export_resolves() -> None:
    for name in keylab.__all__:
        assert getattr(keylab, name) is not None, name
