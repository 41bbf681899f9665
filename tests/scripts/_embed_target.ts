// Exports called by tests/embedding.rs.
import { describe } from "./values.py";
import { echo } from "./values.py";
import { fail } from "./errors.py";

export function add(a: number, b: number): number {
  return a + b;
}

export function viaPython(value: unknown): string {
  return describe(value);
}

export async function later(n: number): Promise<number> {
  await new Promise((r) => setTimeout(r, 1));
  return n + 1;
}

export function fails(): never {
  return fail("from python");
}

export function manyCalls(n: number, offset: number): number {
  let total = 0;
  for (let i = 0; i < n; i++) total += echo(i + offset) as number;
  return total;
}
