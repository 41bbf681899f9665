export const triple = (n) => n * 3;
