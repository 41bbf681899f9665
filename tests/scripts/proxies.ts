// Python objects without a by-value form reach TypeScript as proxies.
import { Counter, make_counter, squares } from "./objects.py";

const counter = new Counter(10);
console.log(typeof counter, typeof Counter);
console.log(counter.add(5), counter.value, counter.label);
counter.value = 100;
console.log(counter.add(), "value" in counter, "missing" in counter, counter.missing);
console.log(String(counter), `${counter}`, counter);
console.log(Object.keys(counter));
console.log(make_counter(3).add(4));
console.log([...squares(5)]);
for (const n of make_counter(2)) console.log("iterated", n);
delete counter.value;
console.log("after delete:", counter.value);
