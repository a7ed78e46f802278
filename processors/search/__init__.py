"""The search side of neural-search, run in Python in front of a node that has only k-NN.

* Query clauses: ``neural`` and ``neural_sparse`` are found anywhere in a request
  (:mod:`.query_walk`) and rewritten to core ``knn`` / ``rank_feature`` queries
  (:mod:`.neural`, :mod:`.neural_sparse`, :mod:`.rewrite`).
* Request processor: ``neural_query_enricher`` (:mod:`.neural_query_enricher`).
* Hybrid search: ``normalization-processor`` / ``score-ranker-processor`` options
  (:mod:`.fusion_config`), float semantics (:mod:`.floats`), the fusion and its executor.
* Response processor: ``rerank`` (:mod:`.rerank`).
"""
