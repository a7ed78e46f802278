"""The ml-commons-shaped model registry: ``_register`` / ``_deploy`` / ``_predict``, model
groups, tasks, chunked uploads, the pretrained catalog and ml-commons' errors, with its state in
the real OpenSearch node. It sits on the model runtime (:mod:`processors.models`), never the
other way round."""
