import { runs } from "./counter_module.py";
export const fromB = runs();
