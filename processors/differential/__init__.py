"""neuralpipe vs the real ml-commons + neural-search plugins on the same inputs (issue #8).

:mod:`.compare` holds the comparators and the table, :mod:`.cases` the inputs and both sides'
calls. The reference node itself (install, start, register) is
``scripts/differential/reference_node.py``; ``scripts/verify_against_reference.py`` ties them.
"""
