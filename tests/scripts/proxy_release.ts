// Proxies JavaScript no longer references release their Python objects:
// a million of them do not pile up.
import { blob, live_blobs } from "./objects.py";
import { liveHandles } from "tandem:python";

const before = liveHandles();
let peak = 0;
for (let i = 0; i < 1_000_000; i++) {
  blob();
  // Collected proxies are released when the event loop turns.
  if (i % 10_000 === 0) {
    await null;
    peak = Math.max(peak, liveHandles() - before);
  }
}
await new Promise((resolve) => setTimeout(resolve, 0));
console.log("peak live handles below 20000:", peak < 20_000);
console.log("live handles after:", liveHandles() - before);
console.log("live Python objects after:", live_blobs());
