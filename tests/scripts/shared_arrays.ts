// numpy arrays and typed arrays share memory: a numpy array crosses as a
// typed array over its own buffer with `shape` and `dtype`, and crosses
// back as an ndarray over the same buffer (docs/values.md).
import {
  as_bytes, big_endian, booleans, collect, describe, fresh, get_state, read_only, scalar_array,
  state_list, strided, transposed, uint8_image, write,
} from "./shared_arrays.py";
import { ndarray } from "tandem:python";

const state = get_state();
console.log("state:", state.constructor.name, state.length, state.shape, state.dtype);
console.log("keys:", Object.keys(state).length, JSON.stringify(Object.keys(state).slice(0, 2)));

// A write in TypeScript is seen by Python, and the other way round.
state[1] = 2.5;
console.log("Python sees:", JSON.stringify(state_list()));
console.log("back in Python:", describe(state));
console.log("Python wrote:", write(state, 9), "TypeScript sees:", state[0]);

// A view of part of the array keeps its offset.
const tail = state.subarray(3);
console.log("subarray:", describe(ndarray(tail, [3])), write(tail, 4), state[3]);

// A typed array made in TypeScript crosses with one copy.
const mine = new Float32Array([1, 2, 3, 4, 5, 6]);
console.log("own array:", describe(mine), write(mine, 7), mine[0]);
const shaped = ndarray(mine, [3, 2]);
console.log("ndarray():", shaped.shape, shaped.dtype, describe(shaped).shape, shaped.buffer === mine.buffer);

// The engine keeps the numpy array alive: Python dropped its reference.
const big = fresh(100_000);
collect();
let sum = 0;
for (const v of big) sum += v;
console.log("kept alive:", big.length, sum, big.shape);

// Arrays numpy cannot lend as they are cross over one copy.
const columns = strided();
console.log("strided:", columns.shape, Array.from(columns), describe(columns).shares_state);
const t = transposed();
console.log("transposed:", t.constructor.name, t.shape, Array.from(t));
const be = big_endian();
console.log("big-endian:", be.constructor.name, Array.from(be), be.dtype);
const ro = read_only();
ro[0] = 5;
console.log("read-only:", Array.from(ro), ro.shape);
const s = scalar_array();
console.log("0-d:", s.length, s[0], JSON.stringify(s.shape));
console.log("bool dtype:", booleans());
const image = uint8_image();
console.log("uint8:", image.constructor.name, image.shape, describe(image).type, as_bytes(new Uint8Array(2)));

// Shapes that do not fit are refused, naming the problem.
for (const bad of [() => ndarray(mine, [4, 2]), () => ndarray([1, 2] as any), () => ndarray(mine, [-6] as any)]) {
  try {
    bad();
  } catch (e) {
    console.log((e as Error).name + ":", (e as Error).message);
  }
}
const forged = new Float32Array(4);
Object.defineProperty(forged, "shape", { value: [3] });
try {
  describe(forged);
} catch (e) {
  console.log((e as Error).name + ":", (e as Error).message);
}
