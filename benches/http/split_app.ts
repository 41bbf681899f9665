// benches/http/split.sh's server: a string route and a Python-bound route.
import { work } from "./split_model.py";

export default {
  fetch(request: Request): Response {
    if (new URL(request.url).pathname === "/python") return new Response(String(work()));
    return new Response("Hello, World!");
  },
};
