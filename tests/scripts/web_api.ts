// The Web API on globalThis (deno_web, deno_fetch), checked against
// examples from the WHATWG specifications.

// URL Standard, "Example URL components" and parsing examples.
const u = new URL("https://user:pass@example.com:8080/a/../b/./c?x=1&y=2#frag");
console.log(u.href, u.origin, u.pathname, u.search, u.hash, u.username);
console.log(new URL("?x", "https://example.com/pa/th").href);
console.log(new URL("https://EXAMPLE.com/%7Efoo").href);
console.log(new URL("https://faß.ExAmPlE/").host);
try {
  new URL("https://ex ample.org/");
} catch (e) {
  console.log((e as Error).name);
}
// URLSearchParams examples.
const params = new URLSearchParams("?a=b&c=d&a=e");
params.append("f", "g h");
console.log(params.getAll("a"), params.toString());
params.sort();
console.log([...params.keys()]);

// Encoding Standard.
const bytes = new TextEncoder().encode("héllo 🐍");
console.log(bytes.length, new TextDecoder().decode(bytes));
console.log(new TextDecoder("utf-16le").decode(new Uint8Array([0x68, 0, 0x69, 0])));

// Fetch Standard: Headers combine values and lower-case names.
const headers = new Headers([["Accept", "text/html"], ["accept", "application/json"]]);
headers.append("Set-Cookie", "a=1");
headers.append("Set-Cookie", "b=2");
console.log(headers.get("ACCEPT"), headers.getSetCookie(), [...headers.keys()]);

// Request / Response bodies.
const request = new Request("https://example.com/api", { method: "POST", body: JSON.stringify({ x: 1 }) });
console.log(request.method, request.url, await request.json());
const response = Response.json({ ok: true }, { status: 201 });
console.log(response.status, response.headers.get("content-type"), await response.text());
const streamed = new Response(new ReadableStream({
  start(controller) {
    controller.enqueue(new TextEncoder().encode("chunk 1, "));
    controller.enqueue(new TextEncoder().encode("chunk 2"));
    controller.close();
  },
}));
console.log(await streamed.text());

// structuredClone (HTML): Maps, Dates, cycles.
const original: any = { when: new Date(0), map: new Map([[1, "one"]]) };
original.self = original;
const clone = structuredClone(original);
console.log(clone.when.toISOString(), clone.map.get(1), clone.self === clone, clone !== original);

// AbortController (DOM).
const controller = new AbortController();
controller.signal.addEventListener("abort", () => console.log("aborted:", controller.signal.reason.name));
controller.abort();
console.log(AbortSignal.abort().aborted);

// Timers and performance.
const t0 = performance.now();
await new Promise((resolve) => setTimeout(resolve, 5));
console.log(performance.now() - t0 >= 4, atob(btoa("tandem")));

// URLPattern (URL Pattern standard's examples).
const pattern = new URLPattern({ pathname: "/books/:id" });
console.log(pattern.test("https://example.com/books/123"), pattern.exec("https://example.com/books/123")?.pathname.groups.id);

// setInterval / clearInterval (HTML).
let ticks = 0;
await new Promise<void>((resolve) => {
  const id = setInterval(() => {
    if (++ticks === 3) {
      clearInterval(id);
      resolve();
    }
  }, 1);
});
console.log("ticks:", ticks);

// MessageChannel (HTML): a message crosses from one port to the other.
const channel = new MessageChannel();
const received = new Promise((resolve) => (channel.port2.onmessage = (e) => resolve(e.data)));
channel.port1.postMessage({ hello: "port" });
console.log(await received);
channel.port1.close();
channel.port2.close();

// TransformStream and WritableStream (Streams): upper-case on the way through.
const written: string[] = [];
await new ReadableStream({
  start(c) {
    c.enqueue("a");
    c.enqueue("b");
    c.close();
  },
})
  .pipeThrough(new TransformStream({ transform: (chunk, c) => c.enqueue(chunk.toUpperCase()) }))
  .pipeTo(new WritableStream({ write: (chunk) => void written.push(chunk) }));
console.log(written);

// CompressionStream / DecompressionStream (Compression): gzip round trip.
const text = "tandem ".repeat(100);
const gzipped = await new Response(new Blob([text]).stream().pipeThrough(new CompressionStream("gzip"))).arrayBuffer();
const unzipped = await new Response(new Blob([gzipped]).stream().pipeThrough(new DecompressionStream("gzip"))).text();
console.log(new Uint8Array(gzipped)[0] === 0x1f, gzipped.byteLength < text.length, unzipped === text);
