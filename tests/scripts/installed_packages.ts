// Installed packages import with `python:`; typed arrays meet numpy.
import json from "python:json";
import { dumps } from "python:json";
import numpy from "python:numpy";
import { linear_model } from "python:sklearn";
import { dtype_of, echo } from "./values.py";
import { import as pyImport } from "tandem:python";

console.log(dumps({ b: 1, a: [true, null] }), json.loads('{"x": [1, 2]}'));
const math = pyImport("math");
console.log(math.gcd(12, 18), math.pi.toFixed(5));

// Typed arrays become numpy arrays of the same dtype and come back typed.
const back = echo(new Float32Array([0.5, 1.5]));
console.log(back instanceof Float32Array, back);
console.log(dtype_of(new Int32Array([1, 2, 3])), dtype_of(new Float64Array(1)), dtype_of(new BigInt64Array(1)));
console.log(echo(numpy.ones([2, 2])));
console.log(numpy.float64(2.5), echo(numpy.int64(7)), echo(numpy.bool_(true)));

// sklearn's submodules import lazily, on first use.
const model = new linear_model.LogisticRegression();
model.fit([[0], [1], [2], [3]], [0, 0, 1, 1]);
console.log(model.predict([[0.1], [2.9]]));
