"""A bare ASGI 3 callable that does not speak the lifespan protocol: it
raises on any scope but HTTP, which the server reports and serves on."""


async def app(scope, receive, send):
    if scope["type"] != "http":
        raise RuntimeError(f"unsupported scope {scope['type']}")
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    text = f"{scope['method']} {scope['path']} {scope['query_string'].decode()} {len(body)}".encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": text})
