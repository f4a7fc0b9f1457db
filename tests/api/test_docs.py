"""/docs and /redoc work without internet: every asset they load comes from the app itself.

Each page is fetched, then every script, style sheet and icon it references, all from the
app; no URL in the pages (or in the style sheet) names another host, so a browser on a
machine without internet access, or behind a corporate proxy, gets the whole page. The
README and `make run` send newcomers to /docs first.
"""

import re
from html.parser import HTMLParser

import httpx
import pytest

# Any absolute or protocol-relative URL: on these pages, every one would name another host.
ABSOLUTE_URL = re.compile(r"""(?:https?:)?//[a-z0-9.-]+""", re.IGNORECASE)


class References(HTMLParser):
    """Collects the `src` and `href` attributes of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [v for k, v in attrs if k in ("src", "href", "spec-url") and v]


def references(html: str) -> list[str]:
    """The URLs a page loads by itself (scripts, style sheets, icons, ReDoc's spec)."""
    parser = References()
    parser.feed(html)
    return parser.urls


def assert_local(text: str, what: str) -> None:
    """No absolute URL in `text` (comments and markup included)."""
    found = ABSOLUTE_URL.findall(text)
    assert not found, f"{what} refers to other hosts: {found}"


@pytest.mark.parametrize(
    ("page", "expected"),
    [
        ("/docs", {"/docs-assets/swagger-ui.css", "/docs-assets/swagger-ui-bundle.js"}),
        ("/redoc", {"/docs-assets/redoc.standalone.js", "/openapi.json"}),
    ],
)
async def test_docs_pages_load_everything_from_the_app(
    client: httpx.AsyncClient, page: str, expected: set[str]
) -> None:
    r = await client.get(page)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert_local(r.text, page)
    urls = set(references(r.text))
    assert expected <= urls, urls
    if page == "/docs":
        assert "url: '/openapi.json'" in r.text
        assert '"validatorUrl": null' in r.text  # Swagger UI's default fetches a badge online
        urls |= {"/openapi.json", "/docs/oauth2-redirect"}
    for url in sorted(urls):
        assert url.startswith("/") and not url.startswith("//"), url
        asset = await client.get(url)
        assert asset.status_code == 200, (url, asset.status_code)
        assert len(asset.content) > 100, url
        kind = asset.headers["content-type"]
        if url.endswith(".css"):
            assert kind.startswith("text/css")
            # Fonts and images of the style sheet are inline (data: URIs), none fetched.
            assert not re.search(r"url\(\s*['\"]?(?:https?:)?//", asset.text), url
            assert "@import" not in asset.text, url
        elif url.endswith(".js"):
            assert "javascript" in kind, (url, kind)
        elif url.endswith(".png"):
            assert kind == "image/png"
        elif url == "/docs/oauth2-redirect":
            assert_local(asset.text, url)


async def test_redoc_asks_for_no_web_fonts(client: httpx.AsyncClient) -> None:
    html = (await client.get("/redoc")).text
    assert "fonts.googleapis.com" not in html and "<link" in html  # only the local icon
    assert [u for u in references(html) if "font" in u.lower()] == []


async def test_the_root_url_is_the_console_which_points_to_the_docs(
    client: httpx.AsyncClient,
) -> None:
    r = await client.get("/")
    assert r.status_code == 200 and "text/html" in r.headers["content-type"]
    assert 'href="/docs"' in r.text
