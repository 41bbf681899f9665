// console.log prints values readably.
console.log("plain string", 42, -0, 1.5, true, null, undefined, 10n);
console.log({ a: 1, "b-c": "str", nested: { deep: { deeper: { deepest: { gone: 1 } } } } });
console.log([1, [2, [3]], "x"], []);
const cyclic: Record<string, unknown> = { name: "loop" };
cyclic.self = cyclic;
console.log(cyclic);
console.log(new Map([["k", 1]]), new Set([1, 2]), new Uint8Array([1, 2]));
console.log(function named() {}, () => 1, class Thing {});
console.log("%s is %d years and %i days", "Ada", 36.5, 3.9, "extra");
console.log(new Date(0));
console.error("to stderr");
console.log({ long: "x".repeat(40), longer: "y".repeat(40) });
