"""Reading and validating the YAML/JSON bodies under ``pipelines/`` and ``mappings/``."""
