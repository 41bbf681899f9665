// The README's opening example, examples/hello/main.ts, as it is shipped.
import "../../examples/hello/main.ts";
