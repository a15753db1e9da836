"""Schemathesis hook: tus PATCH bodies are raw bytes (application/offset+octet-stream)."""

import schemathesis


@schemathesis.serializer("application/offset+octet-stream")
def offset_octet_stream(ctx, value):
    if isinstance(value, bytes):
        return value
    return str(value).encode()
