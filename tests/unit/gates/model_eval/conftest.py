"""The models the model-eval gate tests evaluate, trained once per session."""

from __future__ import annotations

import pytest

from tests.fixtures.eval_models import Case, build_cases


@pytest.fixture(scope="session")
def cases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Case]:
    """Clean, backdoored, unfair, proxy-leaning, brittle and regularized models."""
    return build_cases(tmp_path_factory.mktemp("model-eval"))
