from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from bot.app import App, build_classifier, load_sample_roster, open_app
from bot.config import Config
from bot.outbox import OutboxSender
from nlp import ModelClassifier
from tests.support import Chat, Clock, RecordingTransport, project_config


@pytest.fixture(scope="session")
def classifier(tmp_path_factory: pytest.TempPathFactory) -> ModelClassifier:
    """Built once: jieba's dictionary load is the slow part of start-up."""
    cache = tmp_path_factory.mktemp("nlp")
    return build_classifier(project_config(cache / "unused.db"))


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return project_config(tmp_path / "data" / "jindianzi.db")


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def app(config: Config, clock: Clock, classifier: ModelClassifier) -> AsyncIterator[App]:
    async with open_app(config, clock=clock, classifier=classifier) as app:
        await load_sample_roster(app)
        yield app


@pytest.fixture
def transport() -> RecordingTransport:
    return RecordingTransport()


@pytest.fixture
def sender(app: App, transport: RecordingTransport) -> OutboxSender:
    return app.sender([transport])


@pytest.fixture
def chat(app: App, transport: RecordingTransport, sender: OutboxSender) -> Callable[..., Chat]:
    def make(user: str, **kwargs: object) -> Chat:
        return Chat(app, transport, sender, user, **kwargs)  # type: ignore[arg-type]

    return make
