"""The HTTP API of `corral --serve`: REST, Server-Sent Events and a WebSocket over the engine.

Importing this package is cheap; FastAPI and uvicorn load in `app` and `server`, when serving.
"""
