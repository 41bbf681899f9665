// Run by tests/self_contained.rs with a copy of the binary, the cargo
// registry and the repository hidden: everything here must come from the
// binary itself (and the Python installation).
import { Router } from "tandem:http";
import { shout } from "./helper.py";

const url = new URL("https://a.example/b/c?d=1#e");
console.log(url.pathname, url.searchParams.get("d"));

const request = new Request("https://a.example/items", { method: "POST", body: JSON.stringify({ n: 2 }) });
const headers = new Headers({ "x-a": "1" });
console.log(request.method, (await request.json()).n, headers.get("x-a"));

const stream = new ReadableStream({
  start(controller) {
    controller.enqueue(new TextEncoder().encode("stre"));
    controller.enqueue(new TextEncoder().encode("amed"));
    controller.close();
  },
}).pipeThrough(new TextDecoderStream());
let text = "";
for await (const chunk of stream) text += chunk;
console.log(text, await new Response("body").text());

const app = new Router();
app.get("/hello/:name", (c) => ({ hello: shout(c.params.name) }));
const info = { remoteAddr: { transport: "tcp" as const, hostname: "127.0.0.1", port: 1 } };
const response = await app.fetch(new Request("http://localhost/hello/ada"), info);
console.log(response.status, await response.text());
