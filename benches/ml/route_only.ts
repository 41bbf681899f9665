// The ML benchmark's route without the model: the same router, middleware
// and validation answering a constant, to see what TypeScript and HTTP cost.
//   tandem run --port 3927 --processes 2 --workers 1 benches/ml/route_only.ts
//   wrk -t2 -c64 -d5s -s benches/ml/post.lua http://127.0.0.1:3927/api/sentiment
import { requestId, Router, validate } from "tandem:http";

const app = new Router({ pythonErrors: { InputError: 400 } });
app.use(requestId());
app.post("/api/sentiment", validate({ text: { type: "string", minLength: 1, maxLength: 10000 } }), async (c) => {
  const { text } = await c.body();
  return { sentiment: "positive", confidence: 0.9, scores: { negative: 0.05, neutral: 0.05, positive: 0.9 }, n: text.length };
});
export default app;
