// Context.path equals URL.pathname, whether taken from the URL string (plain
// paths) or from a parsed URL (escapes, dot segments).
import { Router } from "tandem:http";

const app = new Router();
app.get("/*", (c) => ({ path: c.path, pathname: c.url.pathname }));
const info = { remoteAddr: { transport: "tcp" as const, hostname: "127.0.0.1", port: 1 } };
for (
  const url of [
    "http://h/",
    "http://h/users/42?x=1",
    "http://h/v1.0/files/a.txt",
    "http://h/a/../b",
    "http://h/a/./b/",
    "http://h/caf%C3%A9",
    "http://h/with space",
    "http://h/x/%2e%2e/y",
  ]
) {
  const body = await (await app.fetch(new Request(url), info)).json();
  console.log(url, "->", body.path, body.path === body.pathname ? "(same as URL.pathname)" : `(URL.pathname ${body.pathname})`);
}
