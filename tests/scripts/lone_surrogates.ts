// Strings with lone surrogates cross both ways exactly, as values and as
// object keys (docs/values.md); a real U+FFFD stays U+FFFD. A Python str
// holding a high then a low surrogate is one astral character in JS.
import { code_points, keys, make } from "./surrogates.py";

function units(s: string): string {
  const out = [];
  for (let i = 0; i < s.length; i++) out.push(s.charCodeAt(i).toString(16));
  return out.join(" ");
}

console.log("high ->", code_points("a\ud800b"));
console.log("low ->", code_points("\udc00"));
console.log("pair ->", code_points("\ud83d\ude00"));
console.log("U+FFFD ->", code_points("\ufffd"));
console.log("keys ->", keys({ "\udfff": 1, "k\ud800": 2, plain: 3 }));
for (const kind of ["high", "low", "pair", "replacement"]) {
  console.log(`${kind} <-`, units(make(kind)));
}
const long = make("long");
console.log("long <-", long.length, long === "\ud800".repeat(20000) + "x");
const dict = make("dict");
console.log("dict keys <-", Object.keys(dict).map(units).sort());
