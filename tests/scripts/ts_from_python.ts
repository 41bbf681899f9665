// Python requiring a TypeScript module (tandem.js.require) and calling its
// exports: values, errors, functions both ways, calls from many threads.
import * as py from "./ts_from_python.py";

const show = (title: string, value: unknown) => {
  console.log(`== ${title}`);
  if (Array.isArray(value)) return console.log(JSON.stringify(value));
  for (const [k, v] of Object.entries(value as object)) console.log(`${k}: ${JSON.stringify(v)}`);
};

show("basics", py.basics());
show("values", py.values());
show("errors", py.errors());
show("functions", py.functions());
show("threads", py.from_threads());
const formatPrice = py.hand_to_typescript();
console.log("== from this isolate");
console.log(formatPrice(9), formatPrice(1, "GBP"));
