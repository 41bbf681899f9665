// TypeScript side of the Python -> TypeScript part of the call-latency
// benchmark (required by bridge.py through tandem.js).
export function noop(): void {}

export function echo<T>(value: T): T {
  return value;
}
