// validate()'s schema checks (check() from tandem:http): every field type
// and rule docs/http.md lists, each failing once and passing once.
import { check } from "tandem:http";

const schema = {
  code: { type: "string", pattern: "^[A-Z]{3}$" },
  size: { type: "string", enum: ["s", "m", "l"] },
  note: { type: "string", nullable: true, optional: true },
  active: { type: "boolean" },
  count: { type: "integer", minimum: 0, maximum: 10 },
  tags: { type: "array", items: { type: "string" }, minItems: 1, maxItems: 2 },
  owner: { type: "object", properties: { name: { type: "string", minLength: 1 }, age: { type: "number", optional: true } } },
} as const;

const good = { code: "ABC", size: "m", note: null, active: false, count: 3, tags: ["x"], owner: { name: "Ada" } };
console.log("good:", check(schema, good));
const bad = {
  code: "abc",
  size: "xl",
  active: "yes",
  count: 2.5,
  tags: ["x", 1, "z"],
  owner: { name: "", age: "old" },
};
for (const error of check(schema, bad)) console.log(`${error.field}: ${error.message}`);
console.log("null where not nullable:", check(schema, { ...good, code: null }));
console.log("nested object is not an object:", check(schema, { ...good, owner: [1] }));
console.log("body not an object:", check(schema, [good]));
console.log("bounds:", check(schema, { ...good, count: 11, tags: [] }));
