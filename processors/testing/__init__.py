"""Test helpers shipped with the package: fake encoders, tiny models."""
