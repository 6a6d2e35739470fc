"""The dashboard in a real browser: Debian's Chromium driven by Playwright (never a browser
Playwright downloads), against a real stack on loopback: the three services and the gateway,
its gRPC port and its dashboard on ports of their own."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright

from netnet.gateway.v1 import gateway_pb2 as pb
from tests.service.gateway.conftest import Stack, addrs, stack  # noqa: F401 (fixtures)
from tests.support.servers import Tokens

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
WAIT_MS = 5_000  # a bound on any wait for the page (live updates come within 1-2 s)


@pytest.fixture
def gateway_settings() -> dict[str, object]:
    return {"http_addr": "127.0.0.1:0"}


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"no Chromium at {CHROMIUM}: `make install` (as root on Debian) installs it")
    async with async_playwright() as p:
        launched = await p.chromium.launch(executable_path=CHROMIUM)
        yield launched
        await launched.close()


def token_of(md: list[tuple[str, str]]) -> str:
    return dict(md)["authorization"].removeprefix("Bearer ")


@dataclass
class Dashboard:
    """The stack's dashboard, and a browser to open it in."""

    url: str
    stack: Stack
    tokens: Tokens
    browser: Browser

    async def signed_in(
        self, department: str = "office", *roles: str, lang: str = "", region: str = ""
    ) -> Page:
        """A fresh browser context signed in with a token of that department; lang: the
        language cookie's value (none: the default)."""
        context = await self.browser.new_context(viewport={"width": 1400, "height": 1000})
        if lang:
            await context.add_cookies([{"name": "netnet_lang", "value": lang, "url": self.url}])
        page = await context.new_page()
        await page.goto(self.url + "login")
        md = self.tokens(department, *(roles or ("analyst",)))
        await page.fill("#token", token_of(md))
        await page.click("#login button[type=submit]")
        try:
            await page.wait_for_url("**/campaigns/**", timeout=WAIT_MS)
        except Exception:
            print(page.url, await page.content())
            raise
        return page

    async def status(self, campaign: str, department: str = "office") -> pb.CampaignStatus:
        reply = await self.stack.gateway.get_campaign_status(
            campaign_id=campaign, metadata=self.tokens(department, "analyst")
        )
        return reply.status


@pytest.fixture
async def dashboard(
    stack: Stack,  # noqa: F811
    tokens: Tokens,
    browser: Browser,
) -> Dashboard:
    return Dashboard(stack.servers["gateway"].companions["dashboard"].url, stack, tokens, browser)


async def screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path


async def cells(page: Page, table: str) -> dict[str, str]:
    """A figure table's cells as the page shows them: "column:figure" -> text."""
    found = await page.eval_on_selector_all(
        f"#{table} td[data-cell]", "cells => cells.map(c => [c.dataset.cell, c.textContent])"
    )
    return {key: text.strip() for key, text in found}


def shown(text: str, figure: str) -> int | None:
    """A figure's value as read off the page: None where it shows none."""
    if text == "—":
        return None
    plain = text.replace(",", "")
    return round(float(plain) * 100) if figure == "illegal_gains_fen" else int(plain)


def expected(columns: dict[str, pb.Figures]) -> dict[str, int | None]:
    return {
        f"{key}:{name}": getattr(figures, name) if figures.HasField(name) else None  # type: ignore[arg-type]
        for key, figures in columns.items()
        for name in pb.Figures.DESCRIPTOR.fields_by_name
    }


def on_page(found: dict[str, str]) -> dict[str, int | None]:
    return {key: shown(text, key.split(":")[1]) for key, text in found.items()}


def monotonic_ms() -> float:
    return time.monotonic() * 1000
