"""schemathesis against the live ASGI app: every operation of /openapi.json, every check.

It generates requests from the published schema (its examples, the coverage phase's edge cases
and seeded random fuzzing, valid and invalid), sends them to the app in process, and checks each
answer: never a 5xx, a declared status, a declared content type and headers, a body valid by the
declared schema, invalid requests refused, valid ones accepted, 405 for a method that is not
there. Seeded, so a failure comes back on the next run.
"""

from __future__ import annotations

from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck
from hypothesis.internal.conjecture import providers  # private: see the fixture below

from backprop_viz.settings import Settings
from backprop_viz.training.settings import limits_from_env
from backprop_viz.web.app import create_app

SEED = 20261201
# Fuzzed cases per operation, beside the schema's examples and the coverage phase's edge cases:
# about 500 cases for each POST, 300 for the example by id, in under 30 s on this machine.
MAX_EXAMPLES = 300

config = schemathesis.Config.from_dict(
    {
        "seed": SEED,
        "suppress-health-check": [HealthCheck.too_slow.name, HealthCheck.filter_too_much.name],
        "generation": {
            "mode": "all",  # valid and invalid requests
            "max-examples": MAX_EXAMPLES,
            "deterministic": True,
            "database": "none",
        },
        "phases": {"examples": {"enabled": True}, "coverage": {"enabled": True}},
        "checks": {
            "enabled": True,
            # A request valid by the schema can still name a node that is not there, shapes
            # that do not match or a value key that is not a variable: JSON Schema cannot say
            # those, so the engine answers them with its 422 (whose body is checked as well).
            "positive_data_acceptance": {"expected-statuses": [200, 404, 422]},
        },
    }
)

schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(Settings()), config=config)


ANSWERS: Counter[tuple[str, int]] = Counter()  # (operation, status) of every case sent

# Training runs (POST /api/train, the stream, a replayed iteration in /api/trace) bounded to 50
# iterations and about 0.05 s of arithmetic each, so hundreds of generated runs stay quick; a
# larger one is the 422 of BPV_TRAIN_MAX_ITERS or BPV_TRAIN_MAX_WORK, checked like any other.
TRAINING_LIMITS = {"BPV_TRAIN_MAX_ITERS": "50", "BPV_TRAIN_MAX_WORK": "2000000"}


@pytest.fixture(autouse=True, scope="module")
def small_training_runs():
    with pytest.MonkeyPatch.context() as patch:
        for name, value in TRAINING_LIMITS.items():
            patch.setenv(name, value)
        limits_from_env.cache_clear()  # the process reads its limits once
        yield
    limits_from_env.cache_clear()


@pytest.fixture(autouse=True, scope="module")
def same_cases_whatever_ran_before():
    """The same generated requests in every session. Hypothesis mixes into its draws the
    string and number literals of every project module imported so far (the app's and the
    tests'), so the cases, and how many of them trace, changed with the tests that ran before
    and with any literal added anywhere (POST /api/paths traced 18 to 28 times). Seeded
    cases drawn without those literals are the same in any session."""
    empty = providers.Constants(
        integers=providers.SortedSet(),
        floats=providers.SortedSet(key=providers.float_to_int),
        bytes=providers.SortedSet(),
        strings=providers.SortedSet(),
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(providers, "_get_local_constants", lambda: empty)
        providers.CONSTANTS_CACHE.cache.clear()  # what earlier tests' draws cached
        yield
    providers.CONSTANTS_CACHE.cache.clear()


@schema.parametrize()
def test_every_operation_passes_every_schemathesis_check(case):
    response = case.call_and_validate()
    ANSWERS[(case.operation.label, response.status_code)] += 1


def test_schemathesis_reached_the_engine_not_only_the_validators():
    """The schema's examples and enums let generated requests trace, not just be refused."""
    if not ANSWERS:
        pytest.skip("runs after the schemathesis test of the same session")
    operations = ("POST /api/trace", "POST /api/gradcheck", "POST /api/paths")
    for operation in (*operations, "GET /api/examples/{example_id}"):
        assert ANSWERS[(operation, 200)] >= 20, ANSWERS
        assert ANSWERS[(operation, 422 if operation.startswith("POST") else 404)] >= 20
    assert not [key for key in ANSWERS if key[1] >= 500]
