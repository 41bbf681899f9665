// A Python exception becomes a PythonError with its type, message and traceback.
import { fail, fail_custom } from "./errors.py";
import { PythonError } from "tandem:python";

try {
  fail("bad input");
} catch (e) {
  const err = e as PythonError;
  console.log(err instanceof Error, err instanceof PythonError, err.name);
  console.log(err.isPythonException, err.pythonType, err.pythonMessage);
  console.log(err.message);
  console.log(err.pythonTraceback.includes('errors.py", line 6, in fail'));
}
try {
  fail_custom();
} catch (e) {
  console.log((e as PythonError).pythonType, "-", (e as PythonError).pythonMessage);
}
console.log("still running");
