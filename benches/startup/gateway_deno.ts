// The seed architecture's "separate runtimes" baseline on Deno: a gateway
// that validates the request and forwards it over HTTP to the Python model
// service (benches/ml/fastapi_app.py on uvicorn) at $UPSTREAM.
const upstream = Deno.env.get("UPSTREAM");
const port = Number(Deno.env.get("PORT"));

Deno.serve({ port, hostname: "127.0.0.1" }, async (request) => {
  const url = new URL(request.url);
  if (request.method !== "POST" || url.pathname !== "/api/sentiment") {
    return new Response("not found", { status: 404 });
  }
  const body = await request.json().catch(() => null);
  if (typeof body?.text !== "string" || body.text.length < 1 || body.text.length > 10_000) {
    return Response.json({ error: "text must be a string of 1 to 10,000 characters" }, { status: 400 });
  }
  const response = await fetch(`${upstream}/api/sentiment`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ text: body.text }),
  });
  return new Response(response.body, { status: response.status, headers: { "content-type": "application/json" } });
});
