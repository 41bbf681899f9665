import { serve } from "tandem:http";

serve(() => new Response("app"), { ready: true as unknown as () => boolean });
