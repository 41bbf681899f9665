import numpy from "numpy";
console.log(numpy);
