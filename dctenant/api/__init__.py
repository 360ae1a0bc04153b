"""The self-service HTTP API: a layer above ``ops`` (``cli > api > ops``) and the only user of FastAPI and uvicorn."""
