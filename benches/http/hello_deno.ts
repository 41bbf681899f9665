// Hello world for `deno serve` (its --parallel flag runs DENO_JOBS copies).
export default {
  fetch(_request: Request): Response {
    return new Response("Hello, World!");
  },
};
