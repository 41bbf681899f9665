// A Python exception's own data reaches TypeScript: its public attributes
// (on `attributes` and as properties of the error), its args, its classes
// (most derived first) and isInstance() for subclass checks.
import { fail_lookup, fail_quota } from "./errors.py";
import { PythonError } from "tandem:python";

try {
  fail_quota();
} catch (e) {
  const err = e as PythonError;
  console.log(err.pythonType, "-", err.pythonMessage);
  console.log("code:", err.code, "retry_after:", err.retry_after, "attributes.code:", err.attributes.code);
  console.log("name:", err.name, "/ attributes.name:", err.attributes.name);
  console.log("keys:", Object.keys(err.attributes).join(", "));
  console.log("loop:", err.attributes.loop);
  console.log("model is a proxy:", String(err.attributes.model));
  console.log("args:", JSON.stringify(err.pythonArgs));
  console.log("mro:", err.pythonMro.join(" < "));
  console.log(
    "isInstance:",
    err.isInstance("QuotaError"),
    err.isInstance("errors.ModelError"),
    err.isInstance("Exception"),
    err.isInstance("ValueError"),
  );
}
for (const kind of ["key", "index"]) {
  try {
    fail_lookup(kind);
  } catch (e) {
    const err = e as PythonError;
    console.log(kind, err.pythonMro.join(" < "), err.isInstance("LookupError"), JSON.stringify(err.attributes));
  }
}
