// An uncaught error exits non-zero with a stack pointing at this .ts file.
interface Order {
  id: number;
}

function check(order: Order): void {
  throw new Error(`order ${order.id} is invalid`);
}

console.log("before");
check({ id: 7 });
