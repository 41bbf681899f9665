from tandem import js

js.require("./_ts_plain.ts")
