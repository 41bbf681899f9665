// The full polyglot server: TypeScript routes and middleware in front of
// the Flask app of app.py (mounted at /flask), with Python models called
// from both languages.
//
//   tandem run examples/flask-polyglot/server.ts          (port 3000)
//   curl localhost:3000/api/predict -d '{"sepal_length":6.3,"sepal_width":3.3,"petal_length":6,"petal_width":2.5}'
//   curl localhost:3000/flask/predict -H 'content-type: application/json' -d '{...same...}'

import { HttpError, logger, requestId, Router, wsgi } from "tandem:http";
import { app as flask } from "./app.py";
import { FEATURES, model_info, predict } from "./ml_service.py";
import { describePrediction, validateMeasurements } from "./typescript_utils.ts";

const router = new Router({ pythonErrors: { InputError: 400 } });
router.use(requestId(), logger());

router.get("/api/health", () => Response.json({ status: "ok", model: model_info() }));

// The same prediction as Flask's /predict, with TypeScript doing the
// validation and formatting and Python only the model.
router.post("/api/predict", async (c) => {
  const body = await c.request.json().catch(() => {
    throw new HttpError(400, "the body must be JSON");
  });
  const errors = validateMeasurements(body, FEATURES as string[]);
  if (errors.length > 0) throw new HttpError(400, "invalid measurements", errors);
  const result = predict(body) as { species: string; probability: number };
  return Response.json({ ...result, summary: describePrediction(result.species, result.probability) });
});

const python = wsgi(flask, { prefix: "/flask" });
router.all("/flask", python);
router.all("/flask/*", python);

export default router;
