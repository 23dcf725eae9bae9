"""The HTML the study server sends: two static shells (participant, researcher) that load the
local script and style sheet. Every text comes later through the JSON API and is set as text
(``textContent``) by the script, so no study text ever becomes markup; the one text written
here, the title, is escaped. The pages hold no inline script or style, which lets the server
send a strict Content-Security-Policy.
"""
from __future__ import annotations

import html
from importlib import resources

STATIC_TYPES = {"study.js": "text/javascript; charset=utf-8", "admin.js": "text/javascript; charset=utf-8",
                "study.css": "text/css; charset=utf-8"}
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
       "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")

_SHELL = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{title}</title>
<link rel="stylesheet" href="static/study.css">
</head>
<body>
<main id="app" aria-live="polite"><p class="message">Loading&hellip;</p></main>
<noscript><p class="message">This page needs JavaScript.</p></noscript>
<script src="static/{script}"></script>
</body>
</html>
"""


def participant_page(title: str) -> str:
    return _SHELL.format(title=html.escape(title), script="study.js")


def admin_page() -> str:
    return _SHELL.format(title="Study progress", script="admin.js")


def static_files() -> dict[str, bytes]:
    """The page assets, read once from the package (served from memory: no path from a request
    ever reaches the file system)."""
    folder = resources.files(__package__).joinpath("static")
    return {name: folder.joinpath(name).read_bytes() for name in STATIC_TYPES}
