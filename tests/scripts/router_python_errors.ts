// Router({ pythonErrors }) maps Python exception types to answers:
// subclasses match, the most derived class listed wins, a key may be
// `module.Name`, a function gives its own Response (or a status), and the
// default body carries the exception's attributes as `details`.
import { Router } from "tandem:http";
import { fail_lookup, fail_quota } from "./errors.py";

const app = new Router({
  pythonErrors: {
    LookupError: 404,
    KeyError: 400,
    "errors.QuotaError": (e) =>
      Response.json({ error: e.pythonMessage, code: e.attributes.code }, {
        status: 429,
        headers: { "retry-after": String(e.attributes.retry_after) },
      }),
    ModelError: () => 422,
  },
});
app.get("/key", () => fail_lookup("key"));
app.get("/index", () => fail_lookup("index"));
app.get("/model", () => fail_lookup("model"));
app.get("/quota", () => fail_quota());
const info = { remoteAddr: { transport: "tcp" as const, hostname: "127.0.0.1", port: 1 } };

for (const path of ["/key", "/index", "/model", "/quota"]) {
  const response = await app.fetch(new Request(`http://h${path}`), info);
  const body = await response.json();
  delete body.requestId;
  console.log(path, response.status, response.headers.get("retry-after") ?? "-", JSON.stringify(body));
}
