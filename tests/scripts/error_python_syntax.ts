import { broken } from "./broken_syntax.py";
broken();
