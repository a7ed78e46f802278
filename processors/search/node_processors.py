"""The node's own search processors (``search-pipeline-common``): kept verbatim, run by the node.

A search pipeline that names one of these sends it to the node as an inline
``search_pipeline`` (request processors before the node searches, response processors on its
answer, all before neuralpipe's response processors); the node checks their options.

Example:
    >>> from processors.registry import Kind, processor_type
    >>> processor_type(Kind.SEARCH_RESPONSE, "truncate_hits").on_node
    True
"""

from __future__ import annotations

from processors.registry import Kind, register_processor

REQUEST = ("filter_query", "oversample", "script")
RESPONSE = ("collapse", "rename_field", "sort", "split", "truncate_hits")

for _name in REQUEST:
    register_processor(Kind.SEARCH_REQUEST, _name, on_node=True)
for _name in RESPONSE:
    register_processor(Kind.SEARCH_RESPONSE, _name, on_node=True)
