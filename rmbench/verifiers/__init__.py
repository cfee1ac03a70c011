"""Verifiers: programmatic correctness checks (math answers, code unit tests)."""
