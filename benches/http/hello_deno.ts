// Hello world on Deno.serve.
Deno.serve({ port: Number(Deno.env.get("PORT")), hostname: "127.0.0.1", onListen() {} }, (_request) =>
  new Response("Hello, World!"));
