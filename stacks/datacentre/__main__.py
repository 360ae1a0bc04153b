"""The Pulumi entry point: everything is in ``dctenant_stack.program`` so that tests can import it."""

from dctenant_stack import program

program.main()
