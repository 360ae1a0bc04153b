"""Loaders: turn the YAML files of ``quotas/`` into domain objects, reporting every error precisely."""
