// The benchmark's FastAPI app mounted in a TypeScript router with asgi():
// what TypeScript middleware around an ASGI app costs against --asgi.
import { asgi, Router } from "tandem:http";
import { app } from "./app.py";

const router = new Router();
router.all("/*", asgi(app));
export default router;
