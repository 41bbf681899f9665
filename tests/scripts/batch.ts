// @tandem.batch: concurrent calls gathered into lists, errors reaching only
// the caller whose input failed.
import { batch_sizes, checked, double, inverse, lossy, tripled_later } from "./batched.py";

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
