export function greet(who: string): string {
  return `hi ${who}`;
}
