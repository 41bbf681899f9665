// The TypeScript half of tests/value_props.rs: a value (given as JavaScript
// source, so that -0, NaN, lone surrogates, BigInts and typed arrays can be
// written) goes to Python and back, and must come back as docs/values.md's
// table says: equal, with the documented changes of type, or a TypeError.
import { echo } from "./echo.py";

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** "ok", "TypeError: ..." or what differed. */
export function check(source: string): string {
  return checkValue((0, eval)(`(${source})`));
}

/**
 * check() of `[[...[1]...]]` or `{a: {a: ...1}}` nested `depth` levels,
 * built in a loop: the engine's parser would run out of stack on the
 * source of the deepest ones.
 */
export function checkDeep(depth: number, kind: "array" | "object"): string {
  let value: unknown = 1;
  for (let i = 0; i < depth; i++) value = kind === "array" ? [value] : { a: value };
  let back: unknown;
  try {
    back = echo(value);
  } catch (e) {
    return e instanceof TypeError ? `TypeError: ${e.message}` : `threw ${(e as Error)?.name}: ${(e as Error)?.message}`;
  }
  // Unwrapped in a loop too: difference() would recurse as deep.
  for (let i = 0; i < depth; i++) {
    const inner = kind === "array" ? (Array.isArray(back) && back.length === 1 ? back[0] : undefined) : (back as { a?: unknown })?.a;
    if (inner === undefined) return `level ${i}: got ${JSON.stringify(back)?.slice(0, 40)}`;
    back = inner;
  }
  return back === 1 ? "ok" : `the innermost value came back as ${String(back)}`;
}

function checkValue(value: unknown): string {
  let back: unknown;
  try {
    back = echo(value);
  } catch (e) {
    if (e instanceof TypeError) return `TypeError: ${e.message}`;
    return `threw ${(e as Error)?.name}: ${(e as Error)?.message}`;
  }
  return difference(expected(value), back, "value") ?? "ok";
}

/** What `value` becomes after the round trip, by docs/values.md. */
function expected(value: unknown): unknown {
  if (value === undefined) return null;
  if (typeof value === "bigint") return value >= -MAX_SAFE && value <= MAX_SAFE ? Number(value) : value;
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  // A Uint8ClampedArray is a uint8 ndarray in Python, which comes back
  // as a Uint8Array.
  if (value instanceof DataView || value instanceof Uint8Array || value instanceof Uint8ClampedArray) {
    return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  }
  if (ArrayBuffer.isView(value)) return value;
  if (Array.isArray(value)) return value.map(expected);
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, expected(v)]));
  }
  return value;
}

function describe(value: unknown): string {
  if (typeof value === "bigint") return `${value}n`;
  if (typeof value === "number") return Object.is(value, -0) ? "-0" : String(value);
  if (typeof value === "string") return JSON.stringify(value);
  if (ArrayBuffer.isView(value)) return `${value.constructor.name}(${(value as Uint8Array).length})`;
  if (Array.isArray(value)) return `Array(${value.length})`;
  return String(value);
}

function difference(want: unknown, got: unknown, path: string): string | undefined {
  const differ = () => `${path}: expected ${describe(want)}, got ${describe(got)}`;
  if (typeof want !== typeof got) return differ();
  if (typeof want === "number") return Object.is(want, got) ? undefined : differ();
  if (ArrayBuffer.isView(want)) {
    if (!ArrayBuffer.isView(got) || want.constructor !== got.constructor) return differ();
    const [a, b] = [want as unknown as ArrayLike<unknown>, got as unknown as ArrayLike<unknown>];
    if (a.length !== b.length) return differ();
    for (let i = 0; i < a.length; i++) {
      if (!Object.is(a[i], b[i])) return `${path}[${i}]: expected ${describe(a[i])}, got ${describe(b[i])}`;
    }
    return undefined;
  }
  if (Array.isArray(want)) {
    if (!Array.isArray(got) || want.length !== got.length) return differ();
    for (let i = 0; i < want.length; i++) {
      const d = difference(want[i], got[i], `${path}[${i}]`);
      if (d) return d;
    }
    return undefined;
  }
  if (typeof want === "object" && want !== null) {
    if (typeof got !== "object" || got === null || Array.isArray(got)) return differ();
    const [wantKeys, gotKeys] = [Object.keys(want).sort(), Object.keys(got).sort()];
    if (JSON.stringify(wantKeys) !== JSON.stringify(gotKeys)) return `${path}: keys ${JSON.stringify(wantKeys)} came back as ${JSON.stringify(gotKeys)}`;
    for (const key of wantKeys) {
      const d = difference((want as Record<string, unknown>)[key], (got as Record<string, unknown>)[key], `${path}[${JSON.stringify(key)}]`);
      if (d) return d;
    }
    return undefined;
  }
  return want === got ? undefined : differ();
}
