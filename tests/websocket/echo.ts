// WebSocket behaviours for tests/websocket.rs: echo, a listener that
// throws, size and idle limits, and a Router route.
import { Router, upgradeWebSocket } from "tandem:http";

const router = new Router();

// Echoes each message as it came (text as text, binary as binary).
router.get("/echo", (c) => {
  const { socket, response } = upgradeWebSocket(c, { maxMessageSize: 1024 * 1024 });
  socket.binaryType = "arraybuffer";
  socket.onmessage = (event) => socket.send(event.data);
  return response;
});

// Throws on "boom": the socket closes with 1011, the server serves on.
router.get("/throws", (c) => {
  const { socket, response } = Tandem.upgradeWebSocket(c.request);
  socket.addEventListener("message", (event) => {
    if (event.data === "boom") throw new Error("the handler failed");
    socket.send(`ok ${event.data}`);
  });
  return response;
});

// Loops forever on "spin": cut at --handler-timeout, the socket closed
// with 1011, the worker serving on.
router.get("/spin", (c) => {
  const { socket, response } = upgradeWebSocket(c);
  socket.onmessage = (event) => {
    while (event.data === "spin") {
      // runaway
    }
    socket.send(`ok ${event.data}`);
  };
  return response;
});

// Takes messages of 1 KiB at most.
router.get("/small", (c) => {
  const { socket, response } = upgradeWebSocket(c, { maxMessageSize: 1024 });
  socket.onmessage = (event) => socket.send(`got ${event.data.length}`);
  return response;
});

// Pings after 1 s of silence, closes after 2 s.
router.get("/idle", (c) => {
  const { socket, response } = upgradeWebSocket(c, { idleTimeout: 1 });
  socket.onmessage = (event) => socket.send(event.data);
  return response;
});

// Records the socket's events and sends them back on "events?".
router.get("/events", (c) => {
  const { socket, response } = upgradeWebSocket(c, { protocol: "tandem.v1" });
  const seen: string[] = [`state ${socket.readyState} ${socket instanceof WebSocket}`];
  socket.onopen = () => seen.push(`open ${socket.readyState} ${socket.protocol}`);
  socket.onmessage = (event) => {
    if (event.data === "events?") socket.send(seen.join(","));
    else if (event.data === "close") socket.close(4000, "asked to");
    else seen.push(`message ${event.data}`);
  };
  return response;
});

router.get("/", () => "plain HTTP still works");

export default router;
