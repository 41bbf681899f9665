// The global WebSocket connecting out: `tandem run connect.ts URL` talks
// to the echo route at URL and prints what came back.
const url = Tandem.args[0];
const socket = new WebSocket(url);
socket.binaryType = "arraybuffer";
const received: unknown[] = [];
socket.onopen = () => {
  console.log(`open ${socket.readyState === WebSocket.OPEN}`);
  socket.send("hello from the client");
  socket.send(new Uint8Array([1, 2, 3]));
};
socket.onmessage = (event) => {
  received.push(event.data);
  if (typeof event.data === "string") console.log(`text ${event.data}`);
  else console.log(`binary ${[...new Uint8Array(event.data as ArrayBuffer)].join(",")}`);
  if (received.length === 2) socket.close(1000, "done");
};
socket.onclose = (event) => console.log(`close ${event.code} ${event.reason} ${event.wasClean}`);
socket.onerror = (event) => console.log(`error ${(event as ErrorEvent).message}`);
