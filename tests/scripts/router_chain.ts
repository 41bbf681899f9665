// The Router's chain of middleware and handlers: errors thrown or rejected
// at any step become error responses that outer middleware see; next()
// misuse is reported; route handlers run in order; wildcards match their
// prefix alone.
import { HttpError, Router } from "tandem:http";

const app = new Router();
const seen: string[] = [];
app.use(async (c, next) => {
  const response = await next();
  seen.push(`${c.request.method} ${c.path} -> ${response.status}`);
  return response;
});
app.use((c, next) => {
  if (c.request.headers.get("x-deny") !== null) throw new HttpError(403, "denied synchronously");
  return next();
});
app.use((c, next) => c.path === "/twice" ? next().then(() => next()) : next());
app.get("/sync-throw", () => {
  throw new HttpError(418, "thrown by a plain handler");
});
app.get("/async-throw", async () => {
  await null;
  throw new HttpError(409, "rejected by an async handler");
});
app.get("/chain", (c, next) => {
  c.state.order = ["first"];
  return next();
}, async (c, next) => {
  (c.state.order as string[]).push("second");
  return await next();
}, (c) => ({ order: [...(c.state.order as string[]), "third"] }));
app.get("/last-next", (_c, next) => next());
app.get("/twice", () => "once");
app.get("/files/*", (c) => ({ rest: c.params["*"] }));
app.get("/none", () => undefined);

const info = { remoteAddr: { transport: "tcp" as const, hostname: "127.0.0.1", port: 1 } };
async function show(path: string, headers: Record<string, string> = {}) {
  const response = await app.fetch(new Request(`http://h${path}`, { headers }), info);
  const text = await response.text();
  console.log(path, response.status, text.replace(/"requestId":"[^"]*"/, '"requestId":"…"'));
}

await show("/sync-throw");
await show("/async-throw");
await show("/chain");
await show("/chain", { "x-deny": "1" });
await show("/last-next");
await show("/twice");
await show("/files");
await show("/files/a/b%20c");
await show("/none");
await show("/nowhere");
console.log(seen.join("\n"));
