// Python generators and async generators as async iterables: pulled one
// item at a time, errors as PythonError, closed (finally runs) when the
// loop stops early or the signal aborts.
import { acount, afailing, count, failing, forever, take_log } from "./streams.py";
import { withSignal } from "tandem:python";

// Lazy: an item is made only when the loop asks for it.
const gen = count(3);
console.log("before:", take_log());
for await (const i of gen) console.log("got", i, take_log());

// Stopping early closes the generator.
for await (const i of count(100)) {
  if (i === 1) break;
}
console.log("break:", take_log());

// Async generators run on the asyncio loop; items convert as values.
const items = [];
for await (const item of acount(3)) items.push(item);
console.log(items, take_log());
for await (const item of acount(10)) {
  if (item.i === 0) break;
}
console.log("async break:", take_log());

// Exceptions reach the loop as PythonError.
for (const make of [failing, afailing]) {
  try {
    for await (const item of make()) console.log("item", item);
  } catch (e) {
    console.log((e as Error).name, (e as { pythonType: string }).pythonType, (e as Error).message);
  }
}

// ReadableStream.from() over a generator: cancelling the stream closes it.
const reader = ReadableStream.from(count(5)).getReader();
console.log(await reader.read(), await reader.read());
await reader.cancel();
console.log("cancelled stream:", take_log());

// An aborted signal cancels a pending async step (CancelledError in Python).
const controller = new AbortController();
setTimeout(() => controller.abort(new Error("client went away")), 30);
try {
  await withSignal(controller.signal, async () => {
    for await (const _ of forever()) { /* until aborted */ }
  });
} catch (e) {
  console.log("aborted:", (e as Error).message);
}
console.log(take_log().filter((line) => line !== "tick"));
