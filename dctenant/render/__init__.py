"""Renderers: turn domain objects into manifests, rules, dashboards and reports (deterministically)."""
