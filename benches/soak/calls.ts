// A million TS -> Python calls (benches/soak/run.sh): each passes a new JS
// callback that Python calls, and gets back a new Python object (a proxy
// here) that is dropped at once. The process's RSS is sampled at every
// tenth; it must stay within 5% of the samples' median after the first
// fifth (warm-up), or the script exits 1.
import { collect, make, rss_mib } from "./calls_service.py";

const total = Number(Tandem.args[0] ?? 1_000_000);
const step = Math.max(1, Math.floor(total / 10));
const samples: number[] = [];
const started = performance.now();
for (let i = 1; i <= total; i++) {
  const box = make(i, (n: number) => n + 1);
  if (box.n !== i + 1) throw new Error(`call ${i}: got ${box.n}, expected ${i + 1}`);
  if (i % step === 0) {
    // Let finalizers release dropped proxies, then sample.
    await new Promise((resolve) => setTimeout(resolve, 0));
    collect();
    const mib = rss_mib();
    console.log(`  ${i} calls: RSS ${mib.toFixed(1)} MiB`);
    if (i > total / 5) samples.push(mib);
  }
}
const seconds = (performance.now() - started) / 1000;
const sorted = [...samples].sort((a, b) => a - b);
const median = sorted[Math.floor((sorted.length - 1) / 2)];
const deviation = Math.max(...samples.map((s) => Math.abs(s - median) / median * 100));
const flat = deviation <= 5;
console.log(
  `calls: ${total} in ${seconds.toFixed(1)} s (${(seconds / total * 1e6).toFixed(2)} us a call); ` +
    `RSS after the first fifth: median ${median.toFixed(1)} MiB, largest deviation ${deviation.toFixed(1)}%: ` +
    (flat ? "flat" : "FAIL, not within 5%"),
);
if (!flat) Tandem.exit(1);
