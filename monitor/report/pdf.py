"""The report as PDF: its HTML page printed by headless Chromium (Debian's `chromium`).

The page is already made for print (inline CSS, no script, rows kept whole
across pages); a browser is the renderer that lays it out as readers see
it, fonts and Vietnamese included, so no second layout is written here.
The browser is kept off the network: a page with no outside resource needs
none, and its background services (updates, safe browsing) must not call
out from a monitoring host, so every name resolves to nothing and any
connection goes to a closed loopback port.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

CHROMIUM = ("chromium", "chromium-browser", "google-chrome")
TIMEOUT = 180.0  # seconds: a 1,000-site page is a few MB
OFFLINE = (
    "--proxy-server=socks5://127.0.0.1:9",
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-domain-reliability",
    "--disable-client-side-phishing-detection",
    "--no-first-run",
    "--metrics-recording-only",
)


class PdfError(Exception):
    """No browser, or it could not print the page."""


def browser() -> str:
    for name in CHROMIUM:
        found = shutil.which(name)
        if found is not None:
            return found
    raise PdfError("a PDF needs headless Chromium: install Debian's chromium (or use html)")


def has_browser() -> bool:
    return any(shutil.which(name) for name in CHROMIUM)


def pdf_bytes(html: str) -> bytes:
    """`html` printed to PDF, in memory (a scheduled report's attachment)."""
    with tempfile.TemporaryDirectory(prefix="examnet-pdf-") as tmp:
        out = Path(tmp) / "report.pdf"
        html_to_pdf(html, out)
        return out.read_bytes()


def html_to_pdf(html: str, out: Path) -> None:
    """Print `html` to the PDF file `out` (A4, the page's own margins)."""
    with tempfile.TemporaryDirectory(prefix="examnet-report-") as tmp:
        page = Path(tmp) / "report.html"
        page.write_text(html, encoding="utf-8")
        command = [browser(), "--headless", "--disable-gpu", *OFFLINE,
                   f"--user-data-dir={Path(tmp) / 'profile'}", "--no-pdf-header-footer",
                   f"--print-to-pdf={out.resolve()}", page.as_uri()]  # fmt: skip
        if os.geteuid() == 0:
            command.insert(2, "--no-sandbox")  # Chromium's sandbox refuses to run as root
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=TIMEOUT, check=False
            )
        except subprocess.TimeoutExpired:
            raise PdfError(f"Chromium did not print the report within {TIMEOUT:.0f} s") from None
    if done.returncode != 0 or not out.is_file() or out.stat().st_size == 0:
        tail = done.stderr.strip().splitlines()[-1:] or ["no output"]
        raise PdfError(f"Chromium could not print the report ({done.returncode}): {tail[0]}")
