// Routes for the supervisor's tests: which process answers, memory that
// grows, a request that waits, and a crash in native code.
import { grow, pid, segfault } from "./recycle.py";

export default {
  async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    switch (url.pathname) {
      case "/pid":
        return new Response(String(pid()));
      case "/grow":
        return new Response(String(grow(Number(url.searchParams.get("mib")))));
      case "/wait":
        await new Promise((resolve) => setTimeout(resolve, Number(url.searchParams.get("ms"))));
        return new Response(String(pid()));
      case "/segfault":
        segfault();
        return new Response("unreachable");
    }
    return new Response("not found", { status: 404 });
  },
};
