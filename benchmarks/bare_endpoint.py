"""The baseline of the ingest benchmark: a bare Starlette endpoint that parses JSON and LPUSHes it to Redis."""

from __future__ import annotations

import json
import os

import redis.asyncio as redis
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

client = redis.Redis.from_url(os.environ.get("BARE_REDIS_URL", "redis://127.0.0.1:6379/12"))


async def ingest(request: Request) -> JSONResponse:
    body = await request.body()
    payload = json.loads(body)
    await client.lpush("bare", json.dumps(payload))
    return JSONResponse({"accepted": len(payload.get("alerts", []))}, status_code=202)


app = Starlette(routes=[Route("/v1/alerts/alertmanager", ingest, methods=["POST"])])
