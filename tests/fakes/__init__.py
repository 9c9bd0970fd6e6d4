"""Fakes for tests that need no hardware and no trained model."""
