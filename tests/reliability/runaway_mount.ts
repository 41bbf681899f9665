// The WSGI app of runaway_wsgi.py mounted under /py in a TypeScript router,
// for tests/reliability.rs: its /py/loop route never returns unless
// interrupted.
import { Router, wsgi } from "tandem:http";
import { app } from "./runaway_wsgi.py";

const router = new Router();
const python = wsgi(app, { prefix: "/py" });
router.all("/py", python);
router.all("/py/*", python);
router.get("/ts", () => new Response("from TypeScript"));
export default router;
