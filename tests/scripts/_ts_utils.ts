// A TypeScript module that Python requires (see ts_from_python.py).
export const VERSION = "1.2";
export const settings = { currency: "EUR", steps: [1, 2, 3], nested: { on: true } };

export function formatPrice(amount: number, currency = "EUR"): string {
  return `${amount.toFixed(2)} ${currency}`;
}

export async function later(x: number, ms = 20): Promise<number> {
  await new Promise((resolve) => setTimeout(resolve, ms));
  return x * 2;
}

export function fail(): never {
  throw new RangeError("amount out of range");
}

export async function failLater(): Promise<never> {
  await null;
  throw new TypeError("rejected after await");
}

export function throwString(): never {
  throw "a bare string";
}

export function makeAdder(n: number) {
  return (x: number) => x + n;
}

export function applyTwice(f: (x: number) => number, x: number) {
  return f(f(x));
}

let stored: ((x: number) => number) | null = null;
export function keep(f: (x: number) => number) {
  stored = f;
}
export function callKept(x: number) {
  return stored!(x);
}

export function echo<T>(value: T): T {
  return value;
}

export function describe(value: unknown) {
  if (value instanceof Uint8Array) return `Uint8Array(${value.length})`;
  if (Array.isArray(value)) return `Array(${value.length})`;
  return `${typeof value} ${JSON.stringify(value)}`;
}

export function symbol() {
  return Symbol("no");
}

export class Counter {}

export default function greet(name: string) {
  return `hello, ${name}`;
}
