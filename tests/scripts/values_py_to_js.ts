// Every row of the conversion table, Python → TypeScript.
import { echo, samples } from "./values.py";

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
// A "__proto__" dict key is an own property, not the object's prototype.
const proto = echo({ ["__proto__"]: { polluted: true } } as Record<string, unknown>) as Record<string, unknown>;
console.log(
  "__proto__ key:",
  Object.getPrototypeOf(proto) === Object.prototype,
  Object.keys(proto),
  (proto as { polluted?: boolean }).polluted,
);
