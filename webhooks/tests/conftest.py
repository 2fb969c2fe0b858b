"""Fixtures of the webhook tests: private URLs allowed (the receivers listen on
127.0.0.1), as `make run` allows them; the tests of the refusal turn it off."""

import pytest


@pytest.fixture(autouse=True)
def _private_urls_allowed(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = True


@pytest.fixture
def private_urls_refused(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = False
