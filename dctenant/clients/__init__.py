"""Clients: the only code that talks to Kubernetes, Prometheus, Pulumi and databases."""
