// Every row of the conversion table, TypeScript → Python.
import { describe } from "./values.py";
import { kwargs } from "tandem:python";

console.log(describe(42, -7, 2.5, 1e21, 0.1 + 0.2));
console.log(describe("plain", "ünïcödé", "😀 non-BMP 𝔘"));
console.log(describe(true, false));
console.log(describe(null, undefined));
console.log(describe([1, "two", [3]], { a: 1, nested: { list: [true] } }));
console.log(describe(2n ** 70n, -(2n ** 65n), 5n));
console.log(describe(new Uint8Array([1, 2, 255]), new Uint8Array([9]).buffer));
console.log(describe(1, kwargs({ sep: "-", end: null })));
console.log(describe(9007199254740991, 9007199254740992));
