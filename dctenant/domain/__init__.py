"""Domain: frozen value types of the data centre. No I/O, no clock, no printing."""
