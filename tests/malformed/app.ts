// The server tests/malformed_http.rs sends its corpus of bad requests to:
// a plain route, one that reads the body, and handlers that try to put a
// line break into a response's head.
export default {
  async fetch(request: Request): Promise<Response> {
    const path = new URL(request.url).pathname;
    if (path === "/echo") {
      const bytes = new Uint8Array(await request.arrayBuffer());
      return Response.json({ bytes: bytes.length, text: new TextDecoder().decode(bytes) });
    }
    if (path === "/inject/header") {
      return new Response("x", { headers: { "x-note": "a\r\nset-cookie: injected=1" } });
    }
    if (path === "/inject/name") {
      return new Response("x", { headers: { "x-note\r\nset-cookie": "injected=1" } });
    }
    if (path === "/inject/status-text") {
      return new Response("x", { status: 200, statusText: "OK\r\nset-cookie: injected=1" });
    }
    return new Response("hello");
  },
};
