// TypeScript calling Python in-process: no server, no child process.
import { Counter, predict, VERSION } from "./ml_service.py";

interface Prediction {
  label: "positive" | "negative" | "neutral";
  score: number;
  confidence: number;
  words: number;
}

const texts = [
  "I love this, it is great and fast",
  "awful, slow and bad",
  "it arrived on Tuesday",
];

console.log(`ml_service ${VERSION}`);
for (const text of texts) {
  const result = predict(text) as Prediction;
  console.log(text, "=>", result);
}

const counter = new Counter(10);
counter.add(5);
console.log(String(counter), counter.value);

export function add(a: number, b: number): number {
  return a + b;
}
