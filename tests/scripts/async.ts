// `async def` returns a Promise; Promise arguments are awaited first.
import { slow_add, slow_fail, total } from "./aio.py";

const pending = slow_add(1, 2);
console.log(pending instanceof Promise);
console.log(await pending);
console.log(await Promise.all([slow_add(1, 1), slow_add(2, 2), slow_add(3, 3)]));
try {
  await slow_fail();
} catch (e) {
  console.log((e as Error).name, (e as { pythonType: string }).pythonType, (e as Error).message);
}
console.log(await total(Promise.resolve(1), 2, new Promise((r) => setTimeout(() => r(3), 5))));
