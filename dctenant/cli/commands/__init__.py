"""One click command per module, each short: parse, call one ops function, show the result."""
