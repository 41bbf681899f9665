// Every row of the conversion table, Python → TypeScript.
import { samples } from "./values.py";

const s = samples();
for (const [key, value] of Object.entries(s)) {
  const kind = value instanceof Uint8Array
    ? "Uint8Array"
    : Array.isArray(value)
    ? "Array"
    : value === null
    ? "null"
    : typeof value;
  console.log(key, kind, value);
}
console.log("big is exact:", s.big === 2n ** 70n, s.big_negative === -(2n ** 64n) - 1n);
