// The server the HTTP end-to-end tests (tests/http.rs) run: every
// middleware of tandem:http, Python behind some routes, and routes for the
// error paths, streaming and slow handlers.
import { auth, cors, HttpError, logger, rateLimit, requestId, Router, validate } from "tandem:http";
import { classify, fail_with } from "./model.py";

const app = new Router({ pythonErrors: { ValueError: 400, KeyError: 404 } });

app.use(requestId(), logger(), cors({ origin: ["https://app.example"], maxAge: 600 }));

app.get("/", () => "hello");
app.get("/users/:id", (c) => ({ id: c.params.id }));
app.get("/files/*", (c) => ({ path: c.params["*"] }));
app.post("/users/:id", async (c) => c.json({ id: c.params.id, body: await c.body() }, 201));
app.put("/users/:id", async (c) => ({ replaced: c.params.id, body: await c.body() }));
app.patch("/users/:id", async (c) => ({ patched: c.params.id, body: await c.body() }));
app.delete("/items/:id", () => undefined);
// One id per isolate: each worker thread evaluates this module itself.
const isolateId = String(Math.random());
app.get("/isolate", () => isolateId);
app.post(
  "/classify",
  validate({ text: { type: "string", maxLength: 100 }, topK: { type: "integer", minimum: 1, optional: true } }),
  async (c) => classify((await c.body()).text),
);
app.get("/python-error/:kind", (c) => fail_with(c.params.kind));
app.get("/many-headers", (c) =>
  new Response(`asked ${c.request.headers.get("x-ask") ?? "nothing"}`, {
    headers: [["x-a", "1"], ["x-a", "2"], ["x-latin", "caf\u00e9"], ["content-type", "text/plain"]],
  }));
app.get("/own-request-id", () => new Response("mine", { headers: { "x-request-id": "from-handler" } }));
app.get("/throw", () => {
  throw new Error("handler exploded");
});
app.get("/teapot", () => {
  throw new HttpError(418, "I am a teapot");
});
app.get("/slow/:ms", async (c) => {
  console.log(JSON.stringify({ sleeping: Number(c.params.ms) }));
  await new Promise((resolve) => setTimeout(resolve, Number(c.params.ms)));
  return { slept: Number(c.params.ms) };
});
app.get("/abort-watch", (c) =>
  new Promise((resolve) => {
    console.log(JSON.stringify({ watching: c.requestId }));
    c.request.signal.addEventListener("abort", () => {
      console.log(JSON.stringify({ aborted: c.requestId }));
      resolve("aborted");
    });
  }));
app.get("/events", () => {
  let n = 0;
  const encoder = new TextEncoder();
  const body = new ReadableStream({
    async pull(controller) {
      if (n === 3) return controller.close();
      n++;
      await new Promise((resolve) => setTimeout(resolve, 20));
      controller.enqueue(encoder.encode(`data: event ${n}\n\n`));
    },
  });
  return new Response(body, { headers: { "content-type": "text/event-stream" } });
});
app.post("/upload", async (c) => ({ bytes: (await c.request.arrayBuffer()).byteLength }));

// Route-level middleware: it runs before the route's handler only.
app.get("/limited", rateLimit({ capacity: 3, refillPerSecond: 0.5 }), () => "ok");
app.get(
  "/secure",
  auth({ apiKeys: ["key-123"], bearerTokens: ["token-abc"] }),
  (c) => ({ user: c.state.user }),
);
// An outbound fetch() back to this server.
app.get("/proxy/:id", async (c) => {
  const response = await fetch(new URL(`/users/${c.params.id}`, c.url));
  return { upstreamStatus: response.status, upstream: await response.json() };
});

export default app;
