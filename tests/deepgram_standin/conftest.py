from __future__ import annotations

import pytest

from deepgram_standin import DeepgramStandin
from tests.deepgram_standin.wire import KEY


@pytest.fixture
async def dg():
    """The stand-in as it ships: Deepgram's timing."""
    async with DeepgramStandin(api_key=KEY, idle_timeout=5) as standin:
        yield standin
