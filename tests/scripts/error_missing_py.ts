import { predict } from "./no_such_model.py";
predict();
