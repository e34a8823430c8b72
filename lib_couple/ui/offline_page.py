"""The standalone page without requests to public CDNs, so it loads whole offline.

Gradio's page template links a script (iframe-resizer, only needed when the page is embedded in
another site's iframe) from cdnjs and preconnects to Google's font servers. The middleware drops
those tags from the page's HTML; the theme's fonts are system fonts (see `app.build_app`).
"""

from __future__ import annotations

import re
from typing import Any

from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import Response

_CDN_TAGS = re.compile(
    r"<script[^>]*\bsrc=\"https://cdnjs\.cloudflare\.com/[^\"]*\"[^>]*>\s*</script>"
    r"|<link[^>]*\bhref=\"https://fonts\.(?:googleapis|gstatic)\.com[^\"]*\"[^>]*/?>"
)


def without_cdn_tags(page: str) -> str:
    """The page's HTML without the CDN script and the font servers' preconnect links."""
    return _CDN_TAGS.sub("", page)


class OfflinePage(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        response = await call_next(request)
        if request.method != "GET" or not response.headers.get("content-type", "").startswith("text/html"):
            return response
        body = b"".join([chunk async for chunk in response.body_iterator])  # type: ignore[attr-defined]
        page = without_cdn_tags(body.decode("utf-8"))
        headers = {k: v for k, v in response.headers.items() if k.lower() != "content-length"}
        return Response(page, status_code=response.status_code, headers=headers, media_type="text/html")


def offline_app_kwargs() -> dict[str, Any]:
    """`Blocks.launch(app_kwargs=...)` for a page that requests nothing from outside."""
    return {"middleware": [Middleware(OfflinePage)]}
