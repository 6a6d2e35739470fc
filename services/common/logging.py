"""structlog set-up: JSON lines to stdout (or a console renderer).

JSON lines are rendered by orjson and written as bytes, a line at a time: the access line of
every RPC is on the hot path."""

from __future__ import annotations

import logging
import sys

import orjson
import structlog


def configure(fmt: str = "json") -> None:
    json = fmt == "json"
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer(serializer=orjson.dumps)
        if json
        else structlog.dev.ConsoleRenderer(colors=sys.stdout.isatty())
    )
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
        logger_factory=(
            structlog.BytesLoggerFactory(sys.stdout.buffer)
            if json
            else structlog.PrintLoggerFactory(sys.stdout)
        ),
        cache_logger_on_first_use=True,
    )
