"""Embedding models: one interface, a local offline model and an OpenAI-compatible endpoint."""
