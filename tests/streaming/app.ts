// Streamed responses from Python generators (tests/streaming.rs).
import { ndjson, Router, ServerSentEvent, sse } from "tandem:http";
import { breaks_after, endless, numbers, stuck_after_one, take_events, ticks } from "./gen.py";

const app = new Router();
const num = (c: { query: URLSearchParams }, name: string, fallback: number) => Number(c.query.get(name) ?? fallback);

app.get("/ticks", (c) => sse(ticks(num(c, "n", 3), num(c, "delay", 0.3)), { signal: c.request.signal }));
app.get("/quiet", (c) => sse(ticks(2, num(c, "delay", 0.5)), { keepAlive: 100 }));
app.get("/numbers", (c) => ndjson(numbers(c.query.get("name") ?? "")));
app.get("/endless", (c) => sse(endless(c.query.get("name") ?? ""), { signal: c.request.signal }));
app.get("/broken", () => sse(breaks_after(2)));
app.get("/stuck", () => sse(stuck_after_one()));
app.get("/named", () =>
  sse([new ServerSentEvent("two\nlines", { event: "note", id: "7" }), { plain: true }], { keepAlive: 0 }));
app.get("/js", () => {
  async function* letters() {
    yield "a";
    yield "b";
  }
  return new Response(ReadableStream.from(letters()));
});
app.get("/events", () => take_events());

export default app;
