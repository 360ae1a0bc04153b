"""Use-cases that combine loaders, engine, renderers and clients. They never print or exit."""
