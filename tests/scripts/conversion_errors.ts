// Values that cannot cross get a TypeError saying what and where.
import { echo, non_string_key, self_containing_list } from "./values.py";

function attempt(label: string, f: () => unknown) {
  try {
    f();
    console.log(label, "unexpectedly succeeded");
  } catch (e) {
    console.log(`${label}: ${(e as Error).name}: ${(e as Error).message}`);
  }
}

const cyclic: Record<string, unknown> = { a: 1 };
cyclic.self = cyclic;
attempt("js cycle", () => echo({ outer: [cyclic] }));
attempt("symbol", () => echo(Symbol("s")));
attempt("nested promise", () => echo({ p: Promise.resolve(1) }));
attempt("tuple dict key", () => non_string_key());
attempt("python cycle", () => self_containing_list());
// Nesting past the limit names the path briefly.
let deep: unknown = 1;
for (let i = 0; i < 600; i++) deep = [deep];
attempt("too deep", () => echo(deep));
// The same object twice (not a cycle) is fine.
const shared = { x: 1 };
console.log(echo([shared, shared]));
