import { no_such_function } from "./values.py";
no_such_function();
