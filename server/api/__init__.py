"""The server's HTTP API."""
