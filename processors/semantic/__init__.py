"""The ``semantic`` field type of neural-search 3.1+, done by neuralpipe since the node has no
such mapper: :mod:`.fields` (mapping in, mapping out), :mod:`.ingest` (chunks, embeddings and
model info written as the plugin's system processor writes them), :mod:`.query` (``neural`` on
a semantic field rewritten as the plugin rewrites it).
"""
