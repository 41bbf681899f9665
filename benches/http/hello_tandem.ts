// Hello world on Tandem (a default export with fetch).
export default {
  fetch(_request: Request): Response {
    return new Response("Hello, World!");
  },
};
