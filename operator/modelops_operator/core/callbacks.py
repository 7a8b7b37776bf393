"""The status callback endpoint: `POST /callbacks/<plural>/<namespace>/<name>/<uid>`.

The operator gives each resource's remote object its own URL (see `Lifecycle.callback_url`), so the URL a
callback arrives at names the resource; the provider then checks the callback is genuine (Twilio: the
signature over exactly that URL and the parameters, with that account's auth token) and about that
resource's remote object. A genuine callback is answered 204 and makes the operator observe the object at
once; anything else is answered 4xx and counted. The payload is never taken for status.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from aiohttp import web

from modelops_operator.core.lifecycle import Lifecycle
from modelops_operator.metrics import Metrics

log = logging.getLogger(__name__)


def callback_app(lifecycles: Iterable[Lifecycle], metrics: Metrics) -> web.Application:
    by_plural = {lifecycle.kind.plural: lifecycle for lifecycle in lifecycles}

    async def receive(request: web.Request) -> web.Response:
        plural = request.match_info["plural"]
        lifecycle = by_plural.get(plural)
        form = {key: str(value) for key, value in (await request.post()).items()}
        if lifecycle is None:
            status, reason, upstream = 404, "no such kind", "unknown"
        else:
            status, reason = await lifecycle.callback(
                request.match_info["namespace"],
                request.match_info["name"],
                request.match_info["uid"],
                form,
                request.headers,
            )
            upstream = lifecycle.callback_upstream()
        result = "accepted" if status < 400 else "rejected"
        metrics.callbacks.labels(upstream, result).inc()
        if status >= 400:
            # Never what was posted: a forged callback must not write into the log either.
            log.warning("status callback for %s refused (%d): %s", request.path, status, reason)
            return web.Response(status=status, text=reason)
        return web.Response(status=status)

    app = web.Application(client_max_size=64 * 1024)
    app.router.add_post("/callbacks/{plural}/{namespace}/{name}/{uid}", receive)
    return app
