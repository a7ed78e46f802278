"""One whole differential run: both nodes up, the models registered, every case on both sides.

Example:
    >>> cases = run_against_reference(Settings(), ("predict",))  # doctest: +SKIP
    >>> print(table(cases))                                        # doctest: +SKIP
"""

from __future__ import annotations

from processors.settings import Settings
from tests.differential.harness.cases import CATEGORIES, MODELS, Sides, run_all
from tests.differential.harness.compare import Case


def run_against_reference(
    settings: Settings, categories: tuple[str, ...] = CATEGORIES, *, keep: bool = False
) -> list[Case]:
    """Start (or reuse) the main node and the reference node, register :data:`MODELS` on the
    reference, run the cases of ``categories``. The reference node is stopped again unless it
    was already running or ``keep``; the main node is left running (other work shares it).

    Raises:
        NodeError: a node could not be installed or started; ModelError: a model could not be
            registered or deployed on the reference node.
    """
    from processors.opensearch.node import LocalNode
    from processors.opensearch.reference import ReferenceNode
    from processors.opensearch.reference_models import ReferenceModels

    main = settings
    if settings.uses_embedded_node:
        main = settings.model_copy(update={"opensearch_url": LocalNode(settings).start().url})
    reference = ReferenceNode.from_settings(settings)
    was_running = reference.running() is not None
    info = reference.start()
    try:
        models = ReferenceModels(reference, settings)
        ids = {model: models.register(model) for model in MODELS}
        return run_all(Sides(info.url, ids, main), categories)
    finally:
        if not was_running and not keep:
            reference.stop()
