"""The reviewer's web app (FastAPI + Jinja2 + htmx): ``forensics serve``."""
