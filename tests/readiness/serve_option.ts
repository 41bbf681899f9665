// The readiness check given as serve()'s option; ?ready=1 in the request
// to /flip turns it on.
import { serve } from "tandem:http";

let ready = false;
serve(
  (request) => {
    if (new URL(request.url).pathname === "/flip") ready = true;
    return new Response("app");
  },
  { ready: () => ready },
);
