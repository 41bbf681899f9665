// A server that dies right after it starts, every time: the --processes
// supervisor must give up on it rather than restart it forever.
import { serve } from "tandem:http";

serve({ hostname: "127.0.0.1" }, () => new Response("up"));
setTimeout(() => Tandem.exit(3), 100);
