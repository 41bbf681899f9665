// Crossing time of float32 arrays of 1 KB, 1 MB and 64 MB, both ways
// (issue 20): a numpy array returned to TypeScript (a typed array over its
// memory), the same typed array passed back to Python (an ndarray over the
// same memory), and a typed array made in TypeScript passed to Python (one
// copy out of the engine). Prints the median per call in microseconds, a
// Python memcpy of the same size for scale, and how much the time grows
// from 1 KB to 64 MB.
//
//   ./target/release/tandem run benches/array_crossing.ts
import { array, copy_us, size } from "./arrays.py";

const SIZES: [string, number][] = [["1 KB", 256], ["1 MB", 262_144], ["64 MB", 16_777_216]];

// Median microseconds per call: at least 7 calls and 200 ms per case.
function median(call: () => unknown): number {
  for (let i = 0; i < 3; i++) call(); // warm-up
  const samples: number[] = [];
  const start = performance.now();
  while (samples.length < 7 || (performance.now() - start < 200 && samples.length < 20_000)) {
    const t0 = performance.now();
    call();
    samples.push(performance.now() - t0);
  }
  samples.sort((a, b) => a - b);
  return samples[samples.length >> 1] * 1000;
}

const rows: Record<string, number[]> = {
  "Python -> TS (numpy array, shared)": [],
  "TS -> Python (numpy memory, shared)": [],
  "TS -> Python (engine memory, 1 copy)": [],
  "memcpy in Python, for scale": [],
};
for (const [, n] of SIZES) {
  const lent = array(n);
  const own = new Float32Array(n);
  if (size(lent) !== n || size(own) !== n) throw new Error("wrong size crossed");
  rows["Python -> TS (numpy array, shared)"].push(median(() => array(n)));
  rows["TS -> Python (numpy memory, shared)"].push(median(() => size(lent)));
  rows["TS -> Python (engine memory, 1 copy)"].push(median(() => size(own)));
  rows["memcpy in Python, for scale"].push(copy_us(n) as number);
}

const fmt = (us: number) => (us < 100 ? us.toFixed(2) : us.toFixed(0)).padStart(10);
console.log(`${"float32 array, median us per call".padEnd(38)}${SIZES.map(([s]) => s.padStart(10)).join("")}   64 MB / 1 KB`);
for (const [name, us] of Object.entries(rows)) {
  console.log(`${name.padEnd(38)}${us.map(fmt).join("")}   ${(us[2] / us[0]).toFixed(1).padStart(8)}x`);
}
