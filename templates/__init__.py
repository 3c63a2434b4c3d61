"""Jinja2 templates and static C sources of the C exporter (installed as ``codegen.templates``)."""
