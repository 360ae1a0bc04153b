"""The dctenant data-centre stack: one pool's cluster from quotas/, through dctenant's renderer.

Importing this package creates no resources; ``program.main`` does, when Pulumi runs ``__main__.py``.
"""
