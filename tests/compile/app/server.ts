// The app tests/compile.rs compiles: TypeScript importing a sibling module
// and a Python module that reads a data file listed with --include.
import { lookup } from "./lookup.py";
import { shout } from "./lib/util.ts";

export default {
  fetch(request: Request) {
    const word = new URL(request.url).searchParams.get("word") ?? "tandem";
    return Response.json({ word: shout(word), meaning: lookup(word), args: Tandem.args });
  },
};
