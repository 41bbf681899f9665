// The app tests/watch.rs edits while `tandem run --watch` serves it.
import { score } from "./service.py";
import { loaded_at as otherLoadedAt } from "./other.py";

const VERSION = 1;

export default {
  async fetch(request: Request): Promise<Response> {
    const { pathname } = new URL(request.url);
    if (pathname === "/ws") {
      const { socket, response } = Tandem.upgradeWebSocket(request);
      socket.onmessage = (event) => socket.send(`${VERSION}:${event.data}`);
      return response;
    }
    if (pathname === "/slow") {
      await new Promise((resolve) => setTimeout(resolve, 1500));
    }
    return Response.json({ version: VERSION, ...score("a fine day"), other: otherLoadedAt() });
  },
};
