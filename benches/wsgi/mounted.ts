// The benchmark's Flask app mounted in a TypeScript router with wsgi():
// what TypeScript middleware around a WSGI app costs against --wsgi.
import { Router, wsgi } from "tandem:http";
import { app } from "./app.py";

const router = new Router();
router.all("/*", wsgi(app));
export default router;
