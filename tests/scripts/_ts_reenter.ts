// Imports a Python module that requires TypeScript at import time: from the
// module host itself that cannot work, and must say so.
import "./reenter.py";
export const loaded = true;
