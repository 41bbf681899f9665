// The imperative form: serve(options, handler).
import { serve } from "tandem:http";
import os from "python:os";

serve({ hostname: "127.0.0.1" }, (request) => {
  const url = new URL(request.url);
  if (url.pathname === "/pid") return new Response(String(os.getpid()));
  return new Response(`hello ${url.searchParams.get("name")} from ${url.pathname}`);
});
