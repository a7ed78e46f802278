"""The workbench page and its files, served by the proxy app itself (nothing from elsewhere)."""

from __future__ import annotations

import re
from importlib import resources

from tests.unit.proxy.conftest import Call


def test_the_page_and_its_files_are_served(call: Call) -> None:
    page = call("GET", "/_neuralpipe/workbench")
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert "connect-src 'self'" in page.headers["content-security-policy"]
    assert "<title>neuralpipe relevance workbench</title>" in page.text
    for name, kind in (("workbench.js", "text/javascript"), ("workbench.css", "text/css")):
        answer = call("GET", f"/_neuralpipe/workbench/{name}")
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith(kind)
    slash = call("GET", "/_neuralpipe/workbench/", follow_redirects=False)
    assert (slash.status_code, slash.headers["location"]) == (308, "/_neuralpipe/workbench")


def test_an_unknown_file_is_an_opensearch_shaped_404(call: Call) -> None:
    answer = call("GET", "/_neuralpipe/workbench/__init__.py")
    assert answer.status_code == 404
    assert answer.json()["error"]["type"] == "resource_not_found_exception"


def test_the_page_names_no_outside_host() -> None:
    folder = resources.files("processors.proxy").joinpath("workbench")
    for name in ("index.html", "workbench.js", "workbench.css"):
        text = folder.joinpath(name).read_text(encoding="utf-8")
        hosts = [u for u in re.findall(r"(?:https?:)?//[\w.-]+\.\w+", text)
                 if u != "http://www.w3.org"]  # fmt: skip
        assert hosts == [], (name, hosts)
