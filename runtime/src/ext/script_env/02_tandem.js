// The `Tandem` global: script arguments, environment, exit, host functions.

import {
  op_env_delete,
  op_env_get,
  op_env_list,
  op_env_set,
  op_host_call,
  op_runtime_args,
  op_runtime_exit,
  op_runtime_main_module,
} from "ext:core/ops";
import { console } from "ext:tandem_script_env/01_console.js";
import { python } from "ext:tandem_py_proxy/01_py_proxy.js";
import "ext:tandem_http/01_http.js";
import { upgradeWebSocket } from "ext:tandem_websocket/01_websocket.js";

const env = {
  get(name) {
    return op_env_get(String(name)) ?? undefined;
  },
  set(name, value) {
    op_env_set(String(name), String(value));
  },
  delete(name) {
    op_env_delete(String(name));
  },
  has(name) {
    return op_env_get(String(name)) != null;
  },
  toObject() {
    return op_env_list();
  },
};

const host = {
  call(name, ...args) {
    return op_host_call(String(name), args);
  },
};

const Tandem = {
  version: "0.1.0",
  args: Object.freeze(op_runtime_args()),
  // A getter: the main module is chosen after this global is built.
  get mainModule() {
    return op_runtime_main_module() ?? undefined;
  },
  env,
  host,
  python,
  upgradeWebSocket,
  exit(code = 0) {
    op_runtime_exit(code | 0);
  },
};

Object.defineProperty(globalThis, "Tandem", {
  value: Object.freeze(Tandem),
  enumerable: false,
  writable: false,
  configurable: false,
});
Object.defineProperty(globalThis, "console", {
  value: console,
  enumerable: false,
  writable: true,
  configurable: true,
});
