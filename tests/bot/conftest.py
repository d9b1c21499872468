"""Fixtures the channel tests share: the real turn processor on a SQLite file, and the app in process."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest

from bot.app import create_app
from bot.settings import Settings
from bot.turns import TurnProcessor, Turns
from flows.content import Content
from flows.render import Renderer
from tests.bot.channels import in_process, make_processor


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def processor(
    settings: Settings, content: Content, renderer: Renderer, nlu_model: Any, now: datetime
) -> Iterator[TurnProcessor]:
    processor = make_processor(settings, content, renderer, nlu_model, now)
    yield processor
    processor.close()


@pytest.fixture
async def client(settings: Settings, processor: TurnProcessor) -> AsyncIterator[httpx.AsyncClient]:
    async with in_process(create_app(settings, Turns(processor))) as client:
        yield client
