// .json, .mjs and .ts imports, and top-level await.
import data from "./data.json" with { type: "json" };
import { triple } from "./_helper.mjs";
import { greet } from "./_helper.ts";

const value = await new Promise<number>((resolve) => setTimeout(() => resolve(14), 1));
console.log(data.name, triple(value), greet("ts"));
