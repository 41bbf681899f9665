import { which as first } from "./_slow_import/slow_model.py";
import { which as second } from "./_slow_import/other/slow_model.py";

export function both(): string[] {
  return [first(), second()];
}
