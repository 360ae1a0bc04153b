"""``python -m dctenant``: the same entry point as the ``dctenant`` script."""

from dctenant.cli.main import main

main()
