"""Running pipelines: our processors in Python, core ones on the node, in the body's order."""
