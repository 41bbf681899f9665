// JS functions called from Python, Python functions called from JS, and
// errors crossing both ways.
import { call_and_catch, call_and_let_through } from "./errors.py";
import { apply, compose, twice } from "./functions.py";

console.log(apply((a: number, b: number) => a * b, 6, 7));
console.log(apply((o: { n: number }) => ({ doubled: o.n * 2 }), { n: 21 }));
const inc = twice((x: number) => x + 1);
console.log(typeof inc, inc(40));
console.log(compose(Math.sqrt, (x: number) => x * 4)(16));
// Python → JS → Python → JS nesting.
console.log(apply((x: number) => apply((y: number) => y + 1, x * 10), 4));

console.log(call_and_catch(() => {
  throw new TypeError("thrown in TypeScript");
}));
class CustomError extends Error {
  code = 42;
}
const original = new CustomError("keep me");
try {
  call_and_let_through(() => {
    throw original;
  });
} catch (e) {
  console.log("same object:", e === original, (e as CustomError).code);
}
