// flags: --allow-net=example.com
// An --allow-* flag without --deny-all would narrow nothing: the start is refused.
console.log("not reached");
