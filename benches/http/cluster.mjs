// Runs a Node server module (argv[2]) in $WORKERS processes sharing one
// port through node:cluster, the usual way to give Node more than one core.
import cluster from "node:cluster";
import path from "node:path";
import { pathToFileURL } from "node:url";

const workers = Number(process.env.WORKERS ?? 1);
if (cluster.isPrimary) {
  for (let i = 0; i < workers; i++) cluster.fork();
} else {
  await import(pathToFileURL(path.resolve(process.argv[2])).href);
}
