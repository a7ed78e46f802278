"""The 3.x differential cases (search3, asymmetric): unique names, explanations from known.py."""

from __future__ import annotations

from tests.differential.harness import asymmetric_cases, hybrid3_cases, mmr_cases
from tests.differential.harness.cases import CATEGORIES
from tests.differential.harness.known import KNOWN


def test_names_are_unique_and_explanations_known() -> None:
    runs = [*hybrid3_cases.SEARCHES, *hybrid3_cases.EXPLAINS, *hybrid3_cases.BAD_SEARCHES]
    names = [name for name, *_ in runs] + [name for name, _ in mmr_cases.SEARCHES]
    assert len(names) == len(set(names)) and len(names) >= 40
    assert {known for *_, known in runs} <= {"", *KNOWN.values()}
    assert {known for *_, known in asymmetric_cases.PREDICTS} <= {"", *KNOWN.values()}
    assert {"search3", "asymmetric"} <= set(CATEGORIES)


def test_asymmetric_body_adds_the_prefixes() -> None:
    from pathlib import Path

    from processors.settings import Settings

    repo = Path(__file__).resolve().parents[3]
    body = asymmetric_cases.asymmetric_body(Settings(pipelines_dir=repo / "pipelines"))
    config = body["model_config"]
    assert (config["query_prefix"], config["passage_prefix"]) == ("query: ", "passage: ")
    assert body["url"].startswith("file:/") and body["function_name"] == "TEXT_EMBEDDING"
