// The microservice baseline: a Fastify gateway validating requests and
// forwarding them over HTTP (keep-alive) to the Python model service
// (fastapi_app.py on uvicorn) at $UPSTREAM.
import Fastify from "fastify";
import { Agent, request } from "undici";

const upstream = process.env.UPSTREAM;
const dispatcher = new Agent({ connections: 128, pipelining: 1 });
const app = Fastify();

app.post("/api/sentiment", {
  schema: {
    body: {
      type: "object",
      required: ["text"],
      properties: { text: { type: "string", minLength: 1, maxLength: 10000 } },
    },
  },
}, async (req, reply) => {
  const response = await request(`${upstream}/api/sentiment`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ text: req.body.text }),
    dispatcher,
  });
  reply.code(response.statusCode).header("content-type", "application/json");
  return response.body.text();
});

await app.listen({ port: Number(process.env.PORT), host: "127.0.0.1" });
