// A FastAPI app mounted under /api of a TypeScript router, beside a
// TypeScript route (tests/asgi.rs).
import { asgi, Router } from "tandem:http";
import { app as api } from "./fastapi_app.py";

const router = new Router();
router.get("/ts", () => ({ from: "typescript" }));
router.all("/api/*", asgi(api, { prefix: "/api" }));
export default router;
