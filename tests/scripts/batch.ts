// @tandem.batch: concurrent calls gathered into lists, errors reaching only
// the caller whose input failed.
import { batch_sizes, checked, double, double_from_python, echo, inverse, lossy, tripled_later } from "./batched.py";
import { import as pyImport, kwargs } from "tandem:python";

// Ten concurrent calls, max_size 4: batches of 4, 4 and 2, each caller
// getting its own answer.
const doubled = await Promise.all([1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((n) => double(n)));
console.log(doubled.join(" "));
console.log("batch sizes:", batch_sizes().join(" "));

// One call alone still runs (after max_wait_ms).
console.log(await double(21));

const settle = (p: Promise<unknown>) => p.then((v) => `ok ${v}`, (e) => `error ${e.message}`);

// The function raises for the whole list: only the bad input's caller fails.
for (const line of await Promise.all([4, 0, 2].map((n) => settle(inverse(n))))) console.log(line);

// An exception instance as one input's result is raised to that caller.
for (const line of await Promise.all(["tea", "4x4", "cup"].map((w) => settle(checked(w))))) console.log(line);

// A function that returns too few results: retried input by input, the
// caller whose input is lost gets a message that says so.
for (const line of await Promise.all(["a", "b", "c"].map((w) => settle(lossy(w))))) console.log(line);

// Any concurrent.futures.Future (here an executor's) is a Promise.
const pending = tripled_later(14);
console.log(pending instanceof Promise, await pending);

// Values cross a batched call by the same table as any call: plain data
// is queued without the GIL, anything else (a BigInt beyond 64 bits, a
// Python object, a function) as a Python object.
const inputs = [
  "text", 7, 2.5, true, null, [1, [2, "x"]], { a: { b: [true] } },
  new Uint8Array([1, 2, 255]), 2n ** 70n, -(2n ** 40n), pyImport("decimal").Decimal("1.5"),
];
for (const [type, value] of await Promise.all(inputs.map((v) => echo(v)))) {
  console.log(type, value instanceof Uint8Array ? `Uint8Array ${value.join(",")}` : typeof value === "bigint" ? `${value}n` : type === "Decimal" ? String(value) : JSON.stringify(value));
}
await echo(Symbol("s")).catch((e) => console.log(e.name, e.message));

// A Python caller shares the queue with TypeScript callers.
console.log(double_from_python(5), await double(kwargs({ item: 4 })));
