"""Fake upstream providers as pytest fixtures, one server per test module (see fake_providers.py)."""

from __future__ import annotations

from typing import Iterator

import pytest

from fake_providers import FakeAnthropic, FakeAzure, FakeBedrock, FakeGemini, FakeOpenAI, FakeProvider


def _serve(fake: FakeProvider) -> Iterator[FakeProvider]:
    yield fake
    fake.close()


@pytest.fixture(scope="module")
def openai_upstream() -> Iterator[FakeProvider]:
    yield from _serve(FakeOpenAI())


@pytest.fixture(scope="module")
def anthropic_upstream() -> Iterator[FakeProvider]:
    yield from _serve(FakeAnthropic())


@pytest.fixture(scope="module")
def gemini_upstream() -> Iterator[FakeProvider]:
    yield from _serve(FakeGemini())


@pytest.fixture(scope="module")
def azure_upstream() -> Iterator[FakeProvider]:
    yield from _serve(FakeAzure())


@pytest.fixture(scope="module")
def bedrock_upstream() -> Iterator[FakeProvider]:
    yield from _serve(FakeBedrock())
