// TypeScript utilities that the Flask app (app.py) calls from Python
// through tandem.js, and that server.ts imports directly.

export interface FieldError {
  field: string;
  message: string;
}

/** Checks a flower's measurements: four positive numbers under 100 cm. */
export function validateMeasurements(value: unknown, features: string[]): FieldError[] {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    return [{ field: "", message: "expected an object of measurements" }];
  }
  const errors: FieldError[] = [];
  for (const field of features) {
    const v = (value as Record<string, unknown>)[field];
    if (v === undefined) errors.push({ field, message: "is required" });
    else if (typeof v !== "number" || !Number.isFinite(v)) errors.push({ field, message: "must be a number" });
    else if (v <= 0 || v >= 100) errors.push({ field, message: "must be between 0 and 100 (cm)" });
  }
  return errors;
}

/** "Iris virginica (97.1%)". */
export function describePrediction(species: string, probability: number): string {
  const name = species.charAt(0).toUpperCase() + species.slice(1);
  return `Iris ${name.toLowerCase()} (${(probability * 100).toFixed(1)}%)`;
}

/** A URL-safe slug of a title. */
export function slugify(title: string): string {
  return title
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "");
}

/** An async utility: Python's call waits for the Promise to settle. */
export async function audit(event: string, details: Record<string, unknown>): Promise<{ event: string; at: string }> {
  await Promise.resolve();
  return { event, at: new Date().toISOString(), ...details };
}
