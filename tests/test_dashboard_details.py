"""Dashboard details: the icon, the spend chart's geometry, and "Last used" for every authenticated request."""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from test_dashboard import Visitor

from conftest import make_client
from keylab.sandbox import SandboxServer, serve_in_background
from keylab.sandbox.client import ControlClient
from keylab.sandbox.dashboard.usage import axis_money, axis_top, bar_chart

SVG = ""  # inline SVG in HTML: no namespace


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxServer]:
    with serve_in_background(tmp_path_factory.mktemp("details-data")) as server:
        yield server


# -- the icon ------------------------------------------------------------------------------------------------


def test_favicon_is_served(site: SandboxServer) -> None:
    icon = httpx.get(site.url + "/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"] == "image/x-icon"
    assert icon.content[:4] == b"\x00\x00\x01\x00"  # an ICO file ...
    assert icon.content[22:30] == b"\x89PNG\r\n\x1a\n"  # ... holding one PNG
    svg = httpx.get(site.url + "/static/favicon.svg")
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    ET.fromstring(svg.text)  # well-formed


def test_every_page_names_the_icon(site: SandboxServer) -> None:
    for path in ("/login", "/signup"):
        assert '<link rel="icon" href="/static/favicon.svg"' in httpx.get(site.url + path).text


# -- the chart -----------------------------------------------------------------------------------------------


def _chart(days: list[tuple[dt.date, Decimal, int]]) -> ET.Element:
    svg = bar_chart(days)
    root = ET.fromstring(svg.replace('width="100%" ', ""))
    return root


def _days(month: dt.date, until: int, spend: dict[int, str]) -> list[tuple[dt.date, Decimal, int]]:
    return [(month.replace(day=d), Decimal(spend.get(d, "0")), 1 if d in spend else 0) for d in range(1, until + 1)]


@pytest.mark.parametrize(("month", "until"), [(dt.date(2026, 12, 1), 3), (dt.date(2026, 12, 1), 31),
                                              (dt.date(2027, 2, 1), 28), (dt.date(2026, 11, 1), 17)])
def test_chart_labels_sit_under_their_bars(month: dt.date, until: int) -> None:
    spend = {d: str(Decimal("0.0131") * d) for d in range(1, until + 1, 2)}
    root = _chart(_days(month, until, spend))
    width = float(root.get("viewBox").split()[2])
    bars = {int(r.get("data-day")): r for r in root.iter(f"{SVG}rect")}
    assert sorted(bars) == list(range(1, until + 1))
    labels = {int(t.get("data-day")): t for t in root.iter(f"{SVG}text") if t.get("data-day")}
    assert 1 in labels and 5 in labels
    slots = set()
    for day, label in labels.items():
        x = float(label.get("x"))
        assert 0 < x < width and label.get("text-anchor") == "middle"
        slots.add(x)
        if day in bars:
            bar = bars[day]
            assert abs(float(bar.get("x")) + float(bar.get("width")) / 2 - x) < 0.11, day
    # One slot per day of the whole month: a day's place does not move as the month goes on.
    full = _chart(_days(month, 28, {}))
    same = {int(t.get("data-day")): t.get("x") for t in full.iter(f"{SVG}text") if t.get("data-day")}
    assert all(same[day] == label.get("x") for day, label in labels.items() if day in same)


def test_chart_amounts_sit_on_their_gridlines_and_bars_fit() -> None:
    root = _chart(_days(dt.date(2026, 12, 1), 20, {3: "0.039580", 7: "0.2087", 9: "0.0001"}))
    lines = [ln for ln in root.iter(f"{SVG}line") if ln.get("class") in ("grid", "axis") and ln.get("y1") == ln.get("y2")]
    amounts = [t for t in root.iter(f"{SVG}text") if "amount" in (t.get("class") or "")]
    assert [t.text for t in amounts] == ["$0", "$0.25", "$0.50"]
    assert sorted(float(t.get("y")) for t in amounts) == sorted(float(ln.get("y1")) for ln in lines)
    assert all(t.get("dominant-baseline") == "middle" for t in amounts)
    top, base = min(float(ln.get("y1")) for ln in lines), max(float(ln.get("y1")) for ln in lines)
    left = min(float(ln.get("x1")) for ln in lines)
    for bar in root.iter(f"{SVG}rect"):
        y, h = float(bar.get("y")), float(bar.get("height"))
        assert top - 0.05 <= y and abs(y + h - base) < 0.05 and float(bar.get("x")) >= left
    tallest = max(root.iter(f"{SVG}rect"), key=lambda r: float(r.get("height")))
    assert tallest.get("data-day") == "7"
    assert abs(float(tallest.get("height")) - (base - top) * 0.2087 / 0.5) < 0.1


@pytest.mark.parametrize(("value", "top"), [("0", "0.01"), ("0.0001", "0.01"), ("0.011", "0.02"),
                                            ("0.03", "0.05"), ("0.2", "0.2"), ("7", "10")])
def test_axis_top_is_a_round_amount(value: str, top: str) -> None:
    assert axis_top(Decimal(value)) == Decimal(top)
    assert axis_money(Decimal(top) / 2) in {"$0.005", "$0.01", "$0.025", "$0.10", "$5.00"}


# -- last used -------------------------------------------------------------------------------------------------


def _last_used(member: Visitor, name: str) -> str:
    """The "Last used" cell of the key named `name` on the API keys page."""
    page = member.get("/api-keys").text
    headers = re.findall(r"<th>(.*?)</th>", page)
    row = next(r for r in re.findall(r"<tr>.*?</tr>", page, re.S) if name in r)
    cells = re.findall(r"<td>(.*?)</td>", row, re.S)
    return cells[headers.index("Last used")]


def test_listing_models_marks_the_key_used(site: SandboxServer) -> None:
    member = Visitor(site)
    member.finish()
    member.buy()
    _, key = member.create_key()
    assert _last_used(member, "Development_Testing") == "Never"
    client = make_client(site, key)
    assert client.models.list().data  # unbilled: no usage row, but an authenticated request
    assert _last_used(member, "Development_Testing") != "Never"


def test_a_late_write_of_an_earlier_use_never_moves_last_used_back(tmp_path: Path) -> None:
    """Two writers (the per-turn "last used" batch and billing's settle) may land out of order."""
    from keylab.sandbox.accounts import create_account
    from keylab.sandbox.billing import Billing
    from keylab.sandbox.clock import Clock
    from keylab.sandbox.store import Store

    with Store(tmp_path / "data") as store:
        clock = Clock(store)
        billing = Billing(store, clock)
        key_id = create_account(store, clock).api_key_id
        now = clock.now_s()
        billing.mark_used(key_id)  # no event loop: written at once
        billing._used_pending = {key_id: now - 60}  # an older use, written late
        billing._write_used()
        assert store.query_one("SELECT last_used_at FROM api_keys WHERE id = ?", (key_id,))[0] == now


def test_last_used_via_the_admin_api_and_never_backwards(site: SandboxServer) -> None:
    from openai import OpenAI

    control = ControlClient(site.url, site.operator_token)
    account = control.create_account(credits_usd="1")
    org = OpenAI(admin_api_key=account["admin_key"], base_url=site.base_url, max_retries=0).admin.organization

    def last_used() -> int | None:
        return next(k.last_used_at for k in org.projects.api_keys.list(account["project_id"])
                    if k.id == account["api_key_id"])

    assert last_used() is None
    client = make_client(site, account["api_key"])
    client.models.retrieve("gpt-6-luna")
    first = last_used()
    assert first is not None
    control.advance_clock(3600)
    client.models.list()
    client.models.list()  # the same second: nothing more to write
    assert last_used() == first + 3600 or last_used() == first + 3601
