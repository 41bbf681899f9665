// TypeScript business logic that uses a Python discount model and a Rust
// host function, called by the embedding program in src/main.rs.
import { bulk_discount } from "./discount.py";

interface Order {
  sku: string;
  quantity: number;
  unit_price: number;
}

export async function quote(order: Order, region: string) {
  const subtotal = order.quantity * order.unit_price;
  const discount = bulk_discount(order.quantity, subtotal) as number;
  const rate = Tandem.host.call("tax_rate", region) as number;
  const tax = Math.round((subtotal - discount) * rate * 100) / 100;
  return { subtotal, discount, tax, total: subtotal - discount + tax };
}
