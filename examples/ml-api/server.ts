// The Real-Time ML Prediction API: routes, validation, auth and rate
// limiting in TypeScript; the models in Python (ml_service.py), called
// in-process.
//
//   tandem run examples/ml-api/server.ts            # port 3000
//   API_KEYS=k1,k2 RATE_LIMIT=50 tandem run examples/ml-api/server.ts
//
// Configuration (environment): API_KEYS (comma-separated; when set, every
// /api route needs `x-api-key` or `Authorization: Bearer`), RATE_LIMIT
// (requests per second per client, burst twice that; off when unset),
// BATCHING=off (call the models one request at a time), BATCH_WAIT_MS (how
// long a call may wait for others to batch with, default 0), IMAGE_FETCH_TIMEOUT_MS
// (default 5000) and IMAGE_MAX_BYTES (default 5 MiB) for image URLs,
// ADMIN_KEYS (comma-separated; the /admin routes that load, unload and
// split traffic between model versions need one of them, and are off
// without).

import {
  auth,
  HttpError,
  inFlightRequests,
  logger,
  rateLimit,
  requestId,
  Router,
  sse,
  upgradeWebSocket,
  validate,
} from "tandem:http";
import {
  classify,
  load_model,
  model_info,
  model_versions,
  predict_sentiment,
  recommend,
  seen_items,
  sentiment,
  sentiment_batched,
  sentiment_many,
  sentiment_stream,
  set_traffic,
  unload_model,
} from "./ml_service.py";

const env = (name: string) => Tandem.env.get(name);
const keys = (name: string) => (env(name) ?? "").split(",").map((k) => k.trim()).filter((k) => k !== "");
const apiKeys = keys("API_KEYS");
const adminKeys = keys("ADMIN_KEYS");
const rateLimitPerSecond = Number(env("RATE_LIMIT") ?? 0);
const batching = env("BATCHING") !== "off";
const fetchTimeoutMs = Number(env("IMAGE_FETCH_TIMEOUT_MS") ?? 5000);
const imageMaxBytes = Number(env("IMAGE_MAX_BYTES") ?? 5 * 1024 * 1024);

const app = new Router({ pythonErrors: { InputError: 400, ModelError: 404, ModelStateError: 409 } });
app.use(requestId());
if (env("LOG") !== "off") app.use(logger());
if (apiKeys.length > 0) {
  // An admin key opens the API routes too.
  const accepted = [...apiKeys, ...adminKeys];
  app.use(auth({ apiKeys: accepted, bearerTokens: accepted, public: ["/health", "/metrics", "/"] }));
}
if (rateLimitPerSecond > 0) {
  app.use(rateLimit({ capacity: rateLimitPerSecond * 2, refillPerSecond: rateLimitPerSecond }));
}

app.get("/", () => ({ service: "tandem ml-api", models: model_info(), batching }));
app.get("/health", () => ({ status: "ok" }));

app.post(
  "/api/sentiment",
  validate({ text: { type: "string", minLength: 1, maxLength: 10000 } }),
  async (c) => {
    const { text } = await c.body();
    // Alone, a request calls the model directly: handing it to the batching
    // thread and back would only add latency. With other requests in
    // flight it joins a batch.
    return batching && inFlightRequests() > 1 ? await sentiment_batched(text) : sentiment(text);
  },
);

app.post(
  "/api/sentiment/batch",
  validate({
    texts: { type: "array", minItems: 1, maxItems: 256, items: { type: "string", minLength: 1, maxLength: 10000 } },
  }),
  async (c) => {
    const { texts } = await c.body();
    return { results: sentiment_many(texts) };
  },
);

// A long text scored sentence by sentence as Server-Sent Events, each
// sentence scored only when the client is ready for it: POST {text}, or
// GET ?text= for a browser's EventSource.
const longText = { text: { type: "string", minLength: 1, maxLength: 100000 } } as const;
app.post("/api/sentiment/stream", validate(longText), async (c) => {
  const { text } = await c.body();
  return sse(sentiment_stream(text), { signal: c.request.signal });
});
app.get("/api/sentiment/stream", (c) => {
  const text = c.query.get("text") ?? "";
  if (text === "" || text.length > 100000) {
    throw new HttpError(400, "invalid request", [{ field: "text", message: "give ?text= with 1 to 100000 characters" }]);
  }
  return sse(sentiment_stream(text), { signal: c.request.signal });
});

// The same over a WebSocket: each text message is scored sentence by
// sentence, one JSON message per sentence and then {done, sentences}.
// Texts are taken in order; a message that is not a text of 1 to 100000
// characters is answered {error} and the socket stays open.
app.get("/api/sentiment/ws", (c) => {
  const { socket, response } = upgradeWebSocket(c, { maxMessageSize: 4 * 100000 });
  let queue = Promise.resolve();
  // Returning the queue lets a failure close the socket (1011).
  socket.onmessage = (event) => (queue = queue.then(() => scoreOverSocket(socket, event.data)));
  return response;
});

async function scoreOverSocket(socket: WebSocket, text: unknown) {
  if (typeof text !== "string" || text.trim() === "" || text.length > 100000) {
    socket.send(JSON.stringify({ error: "send a text message of 1 to 100000 characters" }));
    return;
  }
  let sentences = 0;
  for await (const result of sentiment_stream(text)) {
    // The client left: leaving the loop closes the generator.
    if (socket.readyState !== WebSocket.OPEN) return;
    socket.send(JSON.stringify(result));
    sentences++;
  }
  socket.send(JSON.stringify({ done: true, sentences }));
}

// Model versions (ml_service.models): X-Model-Version picks one; without
// it the traffic split does, the same version for the same X-User-Id.
app.post(
  "/api/models/sentiment",
  validate({ text: { type: "string", minLength: 1, maxLength: 10000 } }),
  async (c) => {
    const { text } = await c.body();
    const version = c.request.headers.get("x-model-version") ?? undefined;
    const user = c.request.headers.get("x-user-id") ?? undefined;
    return predict_sentiment(text, version, user);
  },
);

// Admin: list, load, unload, split traffic and shadow. Off without
// ADMIN_KEYS; with them, only their holders get in (401/403 otherwise).
const admin = adminKeys.length > 0
  ? auth({ apiKeys: adminKeys, bearerTokens: adminKeys })
  : () => {
    throw new HttpError(403, "the admin routes are off: start the server with ADMIN_KEYS=key1,key2");
  };
app.get("/admin/models", admin, () => model_versions());
app.post("/admin/models/:name/:version/load", admin, (c) => load_model(c.params.name, c.params.version));
app.post("/admin/models/:name/:version/unload", admin, (c) => unload_model(c.params.name, c.params.version));
app.put(
  "/admin/models/:name/traffic",
  admin,
  validate({ weights: { type: "object" }, shadow: { type: "string", optional: true, nullable: true } }),
  async (c) => {
    const { weights, shadow } = await c.body();
    const bad = Object.entries(weights).filter(([, w]) => typeof w !== "number" || !(w >= 0));
    if (bad.length > 0 || !Object.values(weights).some((w) => (w as number) > 0)) {
      throw new HttpError(400, "invalid request body", [
        { field: "weights", message: "give {version: weight} with numbers >= 0, at least one above 0" },
      ]);
    }
    return set_traffic(c.params.name, weights, shadow ?? null);
  },
);

// An image as JSON ({image: base64 or data: URL} or {url}) or as a
// multipart upload (field "image"); `top_k` in the body or the query.
app.post("/api/classify", async (c) => {
  const type = c.request.headers.get("content-type") ?? "";
  let image: Uint8Array | string;
  let topK = Number(c.query.get("top_k") ?? 3);
  if (type.startsWith("multipart/form-data")) {
    const form = await c.request.formData();
    const file = form.get("image");
    if (!(file instanceof Blob)) throw new HttpError(400, 'the multipart body needs a file field named "image"');
    image = new Uint8Array(await file.arrayBuffer());
  } else {
    const body = await c.body();
    if (body === null || typeof body !== "object") {
      throw new HttpError(400, "the body must be a JSON object with image (base64) or url");
    }
    if (body.top_k !== undefined) topK = body.top_k;
    if (typeof body.image === "string" && body.image !== "") image = body.image;
    else if (typeof body.url === "string" && body.url !== "") image = await fetchImage(body.url);
    else {
      throw new HttpError(400, "invalid request body", [
        { field: "image", message: "give image (base64 or a data: URL) or url" },
      ]);
    }
  }
  if (!Number.isInteger(topK) || topK < 1 || topK > 100) {
    throw new HttpError(400, "invalid request body", [{ field: "top_k", message: "must be an integer from 1 to 100" }]);
  }
  return { predictions: classify(image!, topK) };
});

app.post(
  "/api/recommend",
  validate({
    user_id: { type: "integer", minimum: 0 },
    n: { type: "integer", minimum: 1, maximum: 100, optional: true },
  }),
  async (c) => {
    const { user_id, n } = await c.body();
    return recommend(user_id, n ?? 10);
  },
);

app.get("/api/users/:id/items", (c) => {
  const id = Number(c.params.id);
  if (!Number.isInteger(id) || id < 0) throw new HttpError(400, `user id must be a non-negative integer, got ${c.params.id}`);
  try {
    return { user_id: id, items: seen_items(id) };
  } catch {
    throw new HttpError(404, `no user ${id}`);
  }
});

/** Downloads an image for /api/classify, with a time limit and a size cap. */
async function fetchImage(url: string): Promise<Uint8Array> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new HttpError(400, `url is not a valid URL: ${url}`);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new HttpError(400, `url must be http or https, got ${parsed.protocol}`);
  }
  let response: Response;
  try {
    response = await fetch(parsed, { signal: AbortSignal.timeout(fetchTimeoutMs) });
  } catch (e) {
    const reason = (e as Error).name === "TimeoutError" ? `no answer within ${fetchTimeoutMs} ms` : String(e);
    throw new HttpError(400, `fetching the image failed: ${reason}`);
  }
  if (!response.ok) throw new HttpError(400, `fetching the image failed: ${response.status} from ${parsed.host}`);
  const declared = Number(response.headers.get("content-length") ?? 0);
  if (declared > imageMaxBytes) {
    await response.body?.cancel();
    throw new HttpError(413, `the image is larger than ${imageMaxBytes} bytes`);
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of response.body!) {
    size += chunk.length;
    if (size > imageMaxBytes) throw new HttpError(413, `the image is larger than ${imageMaxBytes} bytes`);
    chunks.push(chunk);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  return bytes;
}

export default app;
