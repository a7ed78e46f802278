"""Models: OpenSearch model zips, their runtimes (ONNX Runtime, TorchScript) and the registry."""
