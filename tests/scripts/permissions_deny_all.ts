// flags: --deny-all --allow-env=TANDEM_GOLDEN --allow-python=json,../permissions/outside.py --allow-read=./data.json
// Under --deny-all only what the --allow-* flags list is reachable; each
// refusal is a NotCapable error that names the flag allowing it.
import python from "tandem:python";
import { runs } from "./counter_module.py"; // a .py file in the project root: always allowed

async function attempt(what: string, f: () => unknown) {
  try {
    console.log(what, "->", JSON.stringify(await f()));
  } catch (e) {
    console.log(what, "->", (e as Error).name + ":", (e as Error).message);
  }
}

await attempt("env TANDEM_GOLDEN", () => Tandem.env.get("TANDEM_GOLDEN"));
await attempt("env HOME", () => Tandem.env.get("HOME"));
await attempt("env set", () => Tandem.env.set("TANDEM_NEW", "1"));
await attempt("env toObject", () => Object.keys(Tandem.env.toObject()).length > 0);
await attempt("fetch http", () => fetch("http://127.0.0.1:8787/").then((r) => r.status));
await attempt("fetch allowed file", () => fetch(new URL("./data.json", import.meta.url)).then((r) => r.json()));
await attempt("fetch other file", () => fetch(new URL("./aio.py", import.meta.url)).then((r) => r.text()));
await attempt("python.import json", () => python.import("json").dumps([1]));
await attempt("python.import os", () => python.import("os").getcwd());
await attempt("python.import jsonx", () => python.import("jsonx"));
await attempt("import python:json.decoder", async () => typeof (await import("python:json.decoder")).JSONDecoder);
await attempt("import python:os.path", () => import("python:os.path"));
await attempt("import listed file outside the root", async () => (await import("../permissions/outside.py")).where());
await attempt("import other file outside the root", () => import("../http/model.py"));
await attempt("file in the root", () => runs());
