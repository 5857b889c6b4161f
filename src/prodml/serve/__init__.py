"""The ASGI gateway: routing, shadow, fallback, the prediction log and metrics."""
