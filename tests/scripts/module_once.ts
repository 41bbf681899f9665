// A Python module runs once however many modules import it, static or
// dynamic, and Python's own `import` sees the same module object.
import { fromA } from "./_once_a.ts";
import { fromB } from "./_once_b.ts";
import counter from "./counter_module.py";
import { same_module } from "./uses_counter.py";

const again = await import("./counter_module.py");
console.log(fromA, fromB, counter.runs(), again.runs());
console.log("python import sees the same module:", same_module());
