// setTimeout/setInterval/clearTimeout/clearInterval/queueMicrotask on top
// of deno_core's timer wheel (core.createTimer), with numeric ids as in
// browsers and Deno.

import { core } from "ext:core/mod.js";

const timers = new Map();
let nextId = 1;

function schedule(callback, delay, args, repeat) {
  if (typeof callback !== "function") {
    throw new TypeError(
      `${repeat ? "setInterval" : "setTimeout"} expects a function as its first argument, got ${typeof callback}`,
    );
  }
  const id = nextId++;
  const run = repeat ? callback : (...a) => {
    timers.delete(id);
    callback(...a);
  };
  timers.set(id, core.createTimer(run, delay, args, repeat, true));
  return id;
}

function clear(id) {
  const timer = timers.get(id);
  if (timer !== undefined) {
    timers.delete(id);
    core.cancelTimer(timer);
  }
}

const setTimeout = (callback, delay = 0, ...args) => schedule(callback, delay, args, false);
const setInterval = (callback, delay = 0, ...args) => schedule(callback, delay, args, true);

for (const [name, value] of Object.entries({
  setTimeout,
  setInterval,
  clearTimeout: clear,
  clearInterval: clear,
})) {
  Object.defineProperty(globalThis, name, { value, writable: true, configurable: true });
}
