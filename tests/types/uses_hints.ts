// Calls each kind of declaration `tandem types` writes for
// tests/types/hints.py, correctly: `tandem check` must pass it, and run,
// it prints what crossed, so that tests/types.rs can hold the declared
// types to the values (uses_hints.out).
import { kwargs, ndarray, type NDArray } from "tandem:python";
import {
  apply, batched, Color, embed, fetch, label, Label, LIMIT, matrix, Model, mode, parse, type Point,
  type Scores, search, sentiment, Settings, shape, stream, tokens, top, total, untyped, VERSION,
} from "./hints.py";

const show = (what: string, value: unknown) => console.log(`${what}: ${typeof value} ${JSON.stringify(value)}`);

const scores: Scores = sentiment("great");
show("Scores.positive + LIMIT", scores.positive + LIMIT);
const note: string | undefined = scores.note;
show("Scores.note", note);
const positive: Label = label("fine", 0.7);
show("Label", positive);
show("Label.POSITIVE matches", positive === Label.POSITIVE);
const best: [string, number][] = top(["a", "b", "c"], kwargs({ k: 2, labels: [Label.NEGATIVE] }));
show("top", best);
show("search", search("q", kwargs({ color: "red" })));
const t: number = total(1, 2, 3);
show("total", t);
const vector: NDArray<Float32Array> = embed("text");
show("embed is a Float32Array", vector instanceof Float32Array);
const dims: readonly number[] = vector.shape;
show("embed shape and dtype", [dims, vector.dtype]);
const square = matrix(ndarray(new Float64Array([1, 2, 3, 4]), [2, 2]));
show("matrix shape", square.shape);
const level: 1 | 2 | null = mode("fast");
show("mode", level);
show("apply", apply((s: string, n: number) => s.length > n, ["x", "y", "zzz"]));
const words: string[] = [];
for (const token of tokens("a b")) words.push(token.toUpperCase());
show("tokens", words);
const model = new Model("m", kwargs({ version: 2 }));
show("Model.size", model.size + Model.load("p").predict("x").positive);
show("Model.name", model.name);
const settings = new Settings("s");
const point: Point = [1, 2];
show("shape", shape([point], settings, Color.RED));
show("parse", parse("41") + 1);
show("untyped", untyped(1, "anything"));
show("VERSION", VERSION);

const bytes: Uint8Array = await fetch("url");
show("fetch", bytes.length);
const streamed: number[] = [];
for await (const n of stream(3)) streamed.push(n + 1);
show("stream", streamed);
const one: Scores = await batched("text");
show("batched", one.positive);
const viaModel: Label = await model.predict_async("x");
show("predict_async", viaModel);
