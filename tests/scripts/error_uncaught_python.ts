// An uncaught PythonError shows the Python traceback too.
import { fail } from "./errors.py";

fail("nobody caught this");
