// A server whose routes run away on purpose, for tests/reliability.rs:
// JavaScript that never yields (in the handler itself, and after an await),
// and a Python call that never returns. Every other path counts the
// requests this isolate served, so a test can tell that the isolate kept
// its state across an interruption.
import { withTimeout } from "tandem:python";
import { sleep_async, slow_batch, spin, spin_in_with, state } from "./runaway.py";

/** What a handler sees of a Python call cut at its time limit. */
function limited(call: () => unknown): Response {
  try {
    return Response.json({ result: call() });
  } catch (e) {
    return caught(e);
  }
}

function caught(e: unknown): Response {
  const { pythonType, message } = e as Error & { pythonType?: string };
  return Response.json({ pythonType, message });
}

let served = 0;

export default {
  fetch(request: Request): Response | Promise<Response> {
    const path = new URL(request.url).pathname;
    switch (path) {
      case "/js-loop":
        for (;;) {}
      case "/js-loop-after-await":
        return (async () => {
          await new Promise((resolve) => setTimeout(resolve, 1));
          for (;;) {}
        })();
      case "/py-loop":
        return Response.json(spin());
      case "/py-loop-caught":
        // The handler catches the Python TimeoutError and keeps going: the
        // watchdog's JavaScript termination still ends it.
        try {
          spin();
        } catch (e) {
          console.log(`caught ${(e as Error).name}: ${(e as { pythonType?: string }).pythonType}`);
        }
        for (;;) {}
      case "/py-limited":
        // Under --python-call-timeout: the handler catches the TimeoutError
        // and answers.
        return limited(() => spin());
      case "/py-own-limit":
        return limited(() => withTimeout(spin, 0.1)());
      case "/py-with":
        return Response.json(spin_in_with());
      case "/py-async-sleep":
        // Pending on the asyncio loop until the request's signal aborts.
        return sleep_async(30).then((r: string) => Response.json(r));
      case "/py-async-limited":
        return withTimeout(sleep_async, 0.2)(30).then((r: string) => Response.json(r), caught);
      case "/py-async-quick":
        return sleep_async(0.01).then((r: string) => Response.json(r));
      case "/py-batch": {
        const query = new URL(request.url).searchParams;
        const input = { tag: query.get("tag"), seconds: Number(query.get("seconds")) };
        return slow_batch(input).then((r: string) => Response.json(r));
      }
      case "/py-state":
        return Response.json(state());
      default:
        served += 1;
        return Response.json({ served });
    }
  },
};
