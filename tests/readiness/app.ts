// A server whose readiness the test sets: GET /set/<state> picks what the
// exported ready() does next ("loading" until told otherwise, as an app
// loading its models would be).
import { Router } from "tandem:http";

type State = "loading" | "ready" | "async" | "throws" | "hangs" | "spins" | "number";
let state: State = "loading";

const app = new Router();
app.get("/set/:state", (c) => {
  state = c.params.state as State;
  return { state };
});
app.get("/slow", async () => {
  await new Promise((resolve) => setTimeout(resolve, 1500));
  return { done: true };
});

export function ready(): boolean | Promise<boolean> {
  switch (state) {
    case "ready":
      return true;
    case "async":
      return new Promise((resolve) => setTimeout(() => resolve(true), 50));
    case "throws":
      throw new Error("model file models/sentiment.onnx is missing");
    case "hangs":
      return new Promise(() => {});
    case "spins":
      for (;;) {}
    case "number":
      return 1 as unknown as boolean;
    default:
      return false;
  }
}

export default app;
