// The JS host's loop: take the jobs Python sends (require a module, call
// one of its functions), run each one as soon as it arrives so that slow
// async calls overlap, and hand the outcome back to Rust.

import {
  op_js_host_fail,
  op_js_host_next,
  op_js_host_reply,
  op_js_host_take,
} from "ext:core/ops";

function isThenable(value) {
  return value !== null && (typeof value === "object" || typeof value === "function") &&
    typeof value.then === "function";
}

async function run(id) {
  try {
    const job = op_js_host_take(id);
    if (job === null) return;
    let result = typeof job === "string" ? import(job) : job[0](...job[1]);
    if (isThenable(result)) result = await result;
    op_js_host_reply(id, result);
  } catch (error) {
    op_js_host_fail(id, error);
  }
}

async function serve() {
  for (;;) {
    run(await op_js_host_next());
  }
}

globalThis[Symbol.for("tandem.jsHost")] = serve;
