// console.log/info/debug/warn/error with readable formatting of objects,
// in the style of Node's util.inspect (one line when short, depth-limited,
// cycles marked), plus printf-style %s %d %i %f %o %O %j %c.

import { core } from "ext:core/mod.js";

const INSPECT = Symbol.for("tandem.inspect");
const MAX_DEPTH = 4;
const LINE_WIDTH = 72;

function quote(s) {
  return JSON.stringify(s);
}

function keyName(key) {
  if (typeof key === "symbol") return `[${String(key)}]`;
  return /^[A-Za-z_$][\w$]*$/.test(key) ? key : quote(key);
}

function join(open, items, close, indent) {
  if (items.length === 0) return `${open}${close}`;
  const single = `${open} ${items.join(", ")} ${close}`;
  if (single.length <= LINE_WIDTH && !items.some((i) => i.includes("\n"))) {
    return single;
  }
  const pad = "  ".repeat(indent + 1);
  return `${open}\n${pad}${items.join(`,\n${pad}`)},\n${"  ".repeat(indent)}${close}`;
}

function inspectValue(value, depth, seen, indent) {
  switch (typeof value) {
    case "string":
      return depth === 0 ? value : quote(value);
    case "number":
      return Object.is(value, -0) ? "-0" : String(value);
    case "bigint":
      return `${value}n`;
    case "boolean":
    case "undefined":
      return String(value);
    case "symbol":
      return String(value);
  }
  if (value === null) return "null";
  // Python proxies print their repr().
  let custom;
  try {
    custom = value[INSPECT];
  } catch {
    custom = undefined;
  }
  if (typeof custom === "function") return custom.call(value);
  if (typeof value === "function") {
    const name = value.name ? `: ${value.name}` : " (anonymous)";
    return value.toString().startsWith("class") ? `[class${name.slice(1) ? name : ""}]` : `[Function${name}]`;
  }
  if (seen.includes(value)) return "[Circular]";
  if (value instanceof Error) {
    return value.stack ?? `${value.name}: ${value.message}`;
  }
  if (value instanceof Date) return isNaN(value) ? "Invalid Date" : value.toISOString();
  if (value instanceof RegExp) return String(value);
  if (value instanceof Promise) return "Promise { <pending> }";
  if (depth > MAX_DEPTH) {
    return Array.isArray(value) ? "[Array]" : "[Object]";
  }
  seen.push(value);
  try {
    const next = (v) => inspectValue(v, depth + 1, seen, indent + 1);
    if (Array.isArray(value)) {
      const items = value.slice(0, 100).map(next);
      if (value.length > 100) items.push(`... ${value.length - 100} more items`);
      return join("[", items, "]", indent);
    }
    if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
      const items = Array.from(value.slice(0, 100), (v) => next(v));
      if (value.length > 100) items.push(`... ${value.length - 100} more items`);
      return `${value.constructor.name}(${value.length}) ${join("[", items, "]", indent)}`;
    }
    if (value instanceof ArrayBuffer) {
      return `ArrayBuffer { byteLength: ${value.byteLength} }`;
    }
    if (value instanceof Map) {
      const items = [...value].map(([k, v]) => `${next(k)} => ${next(v)}`);
      return `Map(${value.size}) ${join("{", items, "}", indent)}`;
    }
    if (value instanceof Set) {
      return `Set(${value.size}) ${join("{", [...value].map(next), "}", indent)}`;
    }
    const items = [];
    for (const key of Reflect.ownKeys(value)) {
      const desc = Reflect.getOwnPropertyDescriptor(value, key);
      if (!desc || !desc.enumerable) continue;
      const shown = "value" in desc ? next(desc.value) : "[Getter/Setter]";
      items.push(`${keyName(key)}: ${shown}`);
    }
    const proto = Object.getPrototypeOf(value);
    const ctor = proto && proto !== Object.prototype && proto.constructor
      ? proto.constructor.name
      : "";
    const prefix = proto === null ? "[Object: null prototype] " : ctor ? `${ctor} ` : "";
    return prefix + join("{", items, "}", indent);
  } finally {
    seen.pop();
  }
}

function inspect(value) {
  return inspectValue(value, 0, [], 0);
}

function format(args) {
  if (args.length === 0) return "";
  let out = "";
  let rest = args;
  const first = args[0];
  if (typeof first === "string" && first.includes("%")) {
    let i = 1;
    out = first.replace(/%([sdifoOjc%])/g, (match, spec) => {
      if (spec === "%") return "%";
      if (i >= args.length) return match;
      const arg = args[i++];
      switch (spec) {
        case "s":
          return typeof arg === "string" ? arg : inspectValue(arg, 1, [], 0);
        case "d":
        case "i": {
          if (typeof arg === "bigint") return `${arg}n`;
          const n = Number(arg);
          return String(spec === "i" ? Math.trunc(n) : n);
        }
        case "f":
          return String(Number(arg));
        case "j":
          return JSON.stringify(arg);
        case "c":
          return "";
        default:
          return inspectValue(arg, 1, [], 0);
      }
    });
    rest = args.slice(i);
    if (rest.length === 0) return out;
    out += " ";
  }
  return out + rest.map((a) => inspect(a)).join(" ");
}

function printer(isErr) {
  return (...args) => core.print(format(args) + "\n", isErr);
}

const console = {
  log: printer(false),
  info: printer(false),
  debug: printer(false),
  warn: printer(true),
  error: printer(true),
  trace: (...args) => {
    const err = new Error(format(args));
    err.name = "Trace";
    core.print(`${err.stack}\n`, true);
  },
  assert: (condition, ...args) => {
    if (!condition) {
      core.print(`Assertion failed${args.length ? ": " + format(args) : ""}\n`, true);
    }
  },
  dir: (value) => core.print(inspect(value) + "\n", false),
  table: (data) => core.print(inspect(data) + "\n", false),
};

export { console, format, inspect };
