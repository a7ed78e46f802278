"""Java and OpenSearch semantics the processors share: Java text and number helpers
(:mod:`.java_text`, :mod:`.floats`) and ``ConfigurationUtils``-style option readers
(:mod:`.options`)."""
