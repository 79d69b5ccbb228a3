"""A small Django project the tests serve in-process and under gunicorn and uvicorn."""
