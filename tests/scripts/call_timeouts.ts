// flags: --python-call-timeout 0.3
// Time limits on calls into Python: the runtime's default
// (--python-call-timeout), a function's own (withTimeout), and lifting it.
import { withTimeout } from "tandem:python";
import { add, spin, spin_for, state } from "./call_limits.py";
import { double } from "./batched.py";

function attempt(label: string, f: () => unknown) {
  try {
    console.log(`${label} -> ${f()}`);
  } catch (e) {
    const { name, message, pythonType } = e as Error & { pythonType?: string };
    console.log(`${label} -> ${name}${pythonType ? ` (${pythonType})` : ""}: ${message}`);
  }
}

// The default limit interrupts a loop that never ends; the handler goes on.
attempt("spin()", () => spin());
// A function's own limit.
attempt("withTimeout(spin, 0.1)()", () => withTimeout(spin, 0.1)());
// Infinity lifts the default for one function.
attempt("withTimeout(spin_for, Infinity)(0.5)", () => withTimeout(spin_for, Infinity)(0.5));
// Calls that end in time leave no interrupt behind to land in later ones.
const limitedAdd = withTimeout(add, 5);
let total = 0;
for (let i = 0; i < 10000; i++) total = limitedAdd(total, 1);
console.log("10000 limited calls:", total);
attempt("spin_for(0.2) under the default", () => spin_for(0.2));
// What Python saw: its finally block ran, it caught the TimeoutError.
console.log(state());
// Misuse is a TypeError that says what to pass.
attempt("not Python", () => withTimeout(() => 1, 1));
attempt("zero seconds", () => withTimeout(spin, 0));
attempt("a string", () => withTimeout(spin, "1" as unknown as number));
attempt("a batch function", () => withTimeout(double, 1));
