// requestId() on a Router called directly (no server): the header is set on
// the Response itself, replacing the handler's; the request's own id is
// kept when well formed, and a new one generated otherwise.
import { requestId, Router } from "tandem:http";

const app = new Router();
app.use(requestId());
app.get("/plain", () => "plain");
app.get("/own", () => new Response("own", { headers: { "x-request-id": "from-handler" } }));
const info = { remoteAddr: { transport: "tcp" as const, hostname: "127.0.0.1", port: 1 } };

async function show(path: string, headers: Record<string, string> = {}) {
  const response = await app.fetch(new Request(`http://h${path}`, { headers }), info);
  const id = response.headers.get("x-request-id") ?? "(none)";
  console.log(path, response.status, /^[0-9a-f]{8}-[0-9a-f]+$/.test(id) ? "(generated)" : id);
}

await show("/plain", { "x-request-id": "abc-1" });
await show("/own", { "x-request-id": "abc-2" });
await show("/plain", { "x-request-id": "not valid!" });
await show("/plain");
await show("/missing", { "x-request-id": "abc-3" });
