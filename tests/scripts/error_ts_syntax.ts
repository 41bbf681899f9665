const ok: number = 1;
const = ok;
