"""`/docs` is Swagger UI served by the gateway itself: no asset from another origin, and a policy that allows none."""

import re
from urllib.parse import urlsplit

from playwright.async_api import async_playwright

from tests.support.browser import CHROMIUM
from tests.support.gateway import Gateway

EXPECTED_TYPES = {".css": "text/css", ".js": "text/javascript", ".png": "image/png"}


async def test_the_docs_page_names_only_assets_of_the_gateway_and_each_answers_with_its_type(gateway: Gateway) -> None:
    page = await gateway.http.get("/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "://" not in policy and "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert "script-src 'self';" in policy and "default-src 'none'" in policy

    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert len(assets) == 4, assets  # the stylesheet, the icon, Swagger UI and the script that starts it
    assert "<script>" not in page.text, "no inline script: the policy would refuse it"
    for asset in assets:
        assert asset.startswith("/docs/") and not asset.startswith("//"), asset
        answer = await gateway.http.get(asset)
        assert answer.status_code == 200, asset
        expected = EXPECTED_TYPES[asset[asset.rindex(".") :]]
        assert answer.headers["content-type"].split(";")[0] == expected, asset
        assert len(answer.content) > 0
    bundle = await gateway.http.get("/docs/swagger-ui-bundle.js")
    assert "SwaggerUIBundle" in bundle.text

    unknown = await gateway.http.get("/docs/index.html")
    assert unknown.status_code == 404
    assert unknown.headers["content-type"] == "application/problem+json"


async def test_swagger_ui_shows_the_merged_document_in_a_browser_without_leaving_the_gateway(gateway: Gateway) -> None:
    requested: list[str] = []
    refused: list[str] = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM)
        try:
            page = await browser.new_page()
            page.on("request", lambda request: requested.append(request.url))
            page.on("console", lambda message: refused.append(message.text))
            await page.goto(f"{gateway.url}/docs")
            await page.locator(".swagger-ui .info .title").filter(has_text="Graduated Pathway").wait_for()
            assert await page.locator(".opblock-summary-path", has_text="/oauth/token").count() >= 1
        finally:
            await browser.close()
    origin = urlsplit(gateway.url).netloc
    assert requested and all(urlsplit(url).netloc == origin or url.startswith("data:") for url in requested), requested
    assert f"{gateway.url}/openapi.json" in requested
    assert not [message for message in refused if "Content Security Policy" in message], refused
