"""The command-line interface: the only layer that prints (rich) and parses arguments (click)."""
