// withSignal(): an AbortSignal cancels the Python awaits started under it,
// also those started after an await; a call that settles first is not
// touched, and code outside it is not cancelled.
import { withSignal, withTimeout } from "tandem:python";
import { log, sleep_for } from "./cancellable.py";

async function attempt(label: string, p: Promise<unknown>) {
  try {
    console.log(`${label} -> ${await p}`);
  } catch (e) {
    const { name, message, pythonType } = e as Error & { pythonType?: string };
    console.log(`${label} -> ${name}${pythonType ? ` (${pythonType})` : ""}: ${message}`);
  }
}

const controller = new AbortController();
const pending = withSignal(controller.signal, () => sleep_for(5, "direct"));
const afterAwait = withSignal(controller.signal, async () => {
  await new Promise((resolve) => setTimeout(resolve, 10));
  return await sleep_for(5, "after an await");
});
const quick = withSignal(controller.signal, () => sleep_for(0.01, "quick"));
const outside = sleep_for(0.3, "outside");
await attempt("quick", quick);
setTimeout(() => controller.abort(), 100);
await attempt("direct", pending);
await attempt("after an await", afterAwait);
await attempt("outside", outside);
await attempt("already aborted", withSignal(controller.signal, () => sleep_for(5, "never started")));
await attempt("timeout reason", withSignal(AbortSignal.timeout(50), () => sleep_for(5, "timed")));
await attempt("withTimeout", withTimeout(sleep_for, 0.05)(5, "limited"));
await new Promise((resolve) => setTimeout(resolve, 100));
console.log(log().sort());
try {
  withSignal("no" as unknown as AbortSignal, () => 1);
} catch (e) {
  console.log(String(e));
}
