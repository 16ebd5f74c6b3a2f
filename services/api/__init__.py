"""The HTTP API for intake channels, staff and operators."""
