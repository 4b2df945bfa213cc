"""What a page shows that it should not: console errors, uncaught exceptions, and antd error notifications (the
red "Request error" toasts DB-GPT's UI raises for a failed or `success: false` API call)."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from playwright.sync_api import BrowserContext, ConsoleMessage, Error, Page, Request

OFFLINE_HOSTS = ("at.alicdn.com", "cdn.jsdelivr.net")
"""The UI loads an icon font and the Monaco editor from these CDNs; offline they fail without breaking a page."""
COSMETIC_PATHS = ("/images/bg.png",)
"""Files the UI asks for that its own build does not ship (a 404 that changes nothing)."""
NOT_LOCAL = re.compile(r"^https?://(?!127\.0\.0\.1[:/])")
"""Any request that would leave the machine: aborted, so the tests never use the network."""

TOAST_SCRIPT = """
(() => {
  localStorage.setItem('__db_gpt_lng_key', 'en');
  const ERRORS = '.ant-notification-notice-error, .ant-message-error';
  const seen = new WeakSet();
  const report = (element) => {
    if (seen.has(element)) return;
    seen.add(element);
    window.__reportToast(element.textContent || '');
  };
  new MutationObserver((mutations) => {
    for (const mutation of mutations) {
      for (const node of mutation.addedNodes) {
        if (node.nodeType !== 1) continue;
        if (node.matches(ERRORS)) report(node);
        node.querySelectorAll(ERRORS).forEach(report);
      }
    }
  }).observe(document, { childList: true, subtree: true });
})();
"""


def _ignorable(url: str, text: str) -> bool:
    parts = urlsplit(url)
    if parts.hostname in OFFLINE_HOSTS or any(host in text for host in OFFLINE_HOSTS):
        return True
    return parts.hostname == "127.0.0.1" and parts.path in COSMETIC_PATHS


@dataclass
class Watch:
    """Collects what went wrong in a browser context; `expected` URL parts are failures a test provokes."""

    console: list[str] = field(default_factory=list)
    exceptions: list[str] = field(default_factory=list)
    toasts: list[str] = field(default_factory=list)
    expected: list[str] = field(default_factory=list)

    in_flight: set[Request] = field(default_factory=set)

    def attach(self, context: BrowserContext) -> None:
        """Block requests that would leave the machine, set English, and report error toasts of every page."""
        context.route(NOT_LOCAL, lambda route: route.abort())
        context.expose_function("__reportToast", self._on_toast)
        context.add_init_script(TOAST_SCRIPT)

    def watch_page(self, page: Page) -> None:
        page.on("console", self._on_console)
        page.on("pageerror", self._on_exception)
        page.on("request", self._on_request)
        page.on("requestfinished", self._on_request_done)
        page.on("requestfailed", self._on_request_done)

    def settle(self, page: Page, timeout: float = 30.0) -> None:
        """Wait until no API request is in flight (its answer, and any toast it raises, has arrived)."""
        deadline = time.monotonic() + timeout
        while self.in_flight and time.monotonic() < deadline:
            page.wait_for_timeout(50)  # lets Playwright deliver the events that empty `in_flight`
        page.evaluate("0")  # a round trip: toasts reported before it have been delivered

    def _on_request(self, request: Request) -> None:
        if "/api/" in request.url:
            self.in_flight.add(request)

    def _on_request_done(self, request: Request) -> None:
        self.in_flight.discard(request)

    def _on_toast(self, text: str) -> None:
        self.toasts.append(text)

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        url = message.location.get("url", "")
        if _ignorable(url, message.text) or any(part in url for part in self.expected):
            return
        self.console.append(f"{message.text} ({url})")

    def _on_exception(self, error: Error) -> None:
        self.exceptions.append(f"{error.name}: {error.message}")

    def take_toasts(self) -> list[str]:
        """The error toasts seen so far (a test that provoked them checks them), forgotten."""
        taken, self.toasts[:] = list(self.toasts), []
        return taken

    def problems(self) -> list[str]:
        """Everything seen that a working page never shows."""
        return [
            *(f"console error: {text}" for text in self.console),
            *(f"uncaught exception: {text}" for text in self.exceptions),
            *(f"error notification: {text!r}" for text in self.toasts),
        ]
