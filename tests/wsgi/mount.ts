// A TypeScript router in front of the WSGI app of app.py, mounted at /py:
// TS middleware and routes around a Python app in one server.
import { Router, wsgi } from "tandem:http";
import { app } from "./app.py";

const router = new Router();
router.use(async (c, next) => {
  const response = await next();
  response.headers.set("x-served-by", "tandem-router");
  return response;
});
router.get("/ts", () => new Response("from TypeScript"));
const python = wsgi(app, { prefix: "/py" });
router.all("/py", python);
router.all("/py/*", python);
// The same app as a plain fetch-style handler, given a Request the server
// did not make.
router.get("/copy", async (c) => {
  const inner = new Request(new URL("/py/environ?via=copy", c.request.url), {
    headers: { "x-copied": "yes" },
  });
  return await python(inner);
});
export default router;
