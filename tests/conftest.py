"""Test settings shared by every test module."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import keras  # noqa: E402
import pytest  # noqa: E402


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    """TSM_TF_REVERSE_TEST_ORDER=1 runs the tests in reverse order.

    A suite whose verdicts change with the order has a test that depends on
    what ran before it (an unseeded shared fixture, leaked global state); CI
    can run both orders to catch one.
    """
    if os.environ.get("TSM_TF_REVERSE_TEST_ORDER") == "1":
        items.reverse()


@pytest.fixture(autouse=True)
def _fresh_keras_state():
    """Each test starts from float32 and a fixed seed, whatever the last one set."""
    keras.config.set_dtype_policy("float32")
    keras.utils.set_random_seed(1234)
    yield
    keras.config.set_dtype_policy("float32")
