"""The control API: JSON over HTTP, served by uvicorn."""
