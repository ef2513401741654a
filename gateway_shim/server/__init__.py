"""`aigw serve`: the HTTP gateway (front doors, lifecycle, metrics). See docs/gateway.md."""
