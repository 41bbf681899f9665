// A stack trace that crosses languages several times reads as one trace:
// TypeScript frames (source-mapped .ts lines) and Python frames (.py
// lines) in call order, most recent first, in `stack`, in the uncaught
// error's report and in the Router's log line.
import { Router } from "tandem:http";
import { inner, outer, relay } from "./crossing.py";

// Type-only lines, gone after transpiling: the .ts lines below must
// still be the source's.
interface Unused {
  a: number;
  b: string;
}
type AlsoUnused = Unused | null;

function callback(n: number): number {
  return inner(n);
}

function handle(): number {
  return outer(callback);
}

function stackOf(fn: () => unknown): string {
  try {
    fn();
    return "(no error)";
  } catch (e) {
    return (e as Error).stack!;
  }
}

console.log("TS -> Python -> TS -> Python, the Python raising:");
console.log(stackOf(handle));

function deepest(depth: number): number {
  if (depth === 0) throw new RangeError("out of depth");
  return relay(deepest, depth - 1);
}

console.log("TS -> Python -> TS -> Python -> TS -> Python -> TS (recursive), the TypeScript throwing:");
console.log(stackOf(() => relay(deepest, 2)));

const app = new Router();
app.get("/crash", () => handle());
const info = { remoteAddr: { transport: "tcp" as const, hostname: "127.0.0.1", port: 1 } };
const response = await app.fetch(new Request("http://h/crash"), info);
console.log("router:", response.status);

handle();
