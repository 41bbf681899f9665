// A server with no readiness check of its own, served with serve().
import { serve } from "tandem:http";

serve(() => new Response("app"));
