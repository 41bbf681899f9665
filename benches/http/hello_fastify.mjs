// Hello world on Fastify.
import Fastify from "fastify";
const app = Fastify({ logger: false });
app.get("/", async (_request, reply) => {
  reply.type("text/plain;charset=UTF-8");
  return "Hello, World!";
});
await app.listen({ port: Number(process.env.PORT), host: "127.0.0.1" });
