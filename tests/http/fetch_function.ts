// A module whose default export is a function named `fetch`.
export default async function fetch(request: Request): Promise<Response> {
  const url = new URL(request.url);
  return new Response(`hello ${url.searchParams.get("name")} from ${url.pathname}`);
}
