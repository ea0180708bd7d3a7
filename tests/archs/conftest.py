"""Architecture tests run tiny models: one torch thread for all of them."""

import pytest


@pytest.fixture(autouse=True)
def one_thread(one_torch_thread):
    yield
