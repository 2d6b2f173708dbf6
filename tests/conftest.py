"""Shared pytest set-up: draw figures off screen and close them after every test."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="session")
def playwright_instance():
    """One Playwright driver for the whole session: the sync API allows only one running at a time,
    so every browser test module launches its Chromium from this one."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        yield pw
