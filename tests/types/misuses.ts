// Wrong calls into tests/types/hints.py: `tandem check` must report each
// with the compiler's message (tests/types.rs, misuses.out).
import { label, Label, Model, sentiment, top } from "./hints.py";

sentiment(42);
const wrong: number = label("x");
top(["a"], 3);
new Model();
const neutral: Label = "neutral";
console.log(wrong, neutral);
