"""The whole diff of issue #8: predict, ingest simulate, searches, error responses."""

from __future__ import annotations

import pytest

from processors.opensearch.reference import ReferenceNode
from processors.opensearch.reference_models import ReferenceModels
from processors.settings import Settings
from tests.differential.harness.cases import MODELS, Sides, run_all
from tests.differential.harness.compare import table


@pytest.mark.differential
@pytest.mark.timeout(1800)
def test_neuralpipe_matches_the_plugins_or_differences_are_explained(
    reference: ReferenceNode, opensearch_url: str
) -> None:
    settings = Settings(opensearch_url=opensearch_url)
    models = ReferenceModels(reference, Settings())
    ids = {model: models.register(model) for model in MODELS}
    cases = run_all(Sides(reference.url(), ids, settings))
    print(table(cases))
    assert len(cases) >= 60
    categories = {c.category for c in cases}
    assert categories == {
        *("predict", "ingest", "search", "errors", "search3", "asymmetric"),
        *("sparse_ann", "neural_stats", "semantic", "two_phase", "hybrid_collapse"),
        # skip_existing's case is an ingest case
    }
    unexplained = [
        f"{c.name}: {c.differences[:3]}" for c in cases if not c.identical and not c.known
    ]
    assert not unexplained, "\n".join(unexplained)
    # the comparisons must bite: most cases agree, and the known differences are still there
    assert sum(c.identical for c in cases) >= 60
    assert any(not c.identical for c in cases if c.name == "hybrid without a fusion pipeline")
