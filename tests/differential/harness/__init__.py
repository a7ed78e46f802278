"""neuralpipe vs the real ml-commons + neural-search plugins on the same inputs (issue #8).

:mod:`.compare` holds the comparators and the table, :mod:`.cases` the inputs and both sides'
calls, :mod:`.run` one whole run. The reference node itself (install, start, register) is
:mod:`processors.opensearch.reference` and :mod:`processors.opensearch.reference_models`;
``scripts/verify_against_reference.py`` and ``pytest -m differential`` drive them.
"""
