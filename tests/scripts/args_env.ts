// args: first --flag two-words
// Script arguments and environment variables.
console.log(Tandem.args);
console.log(Tandem.env.get("TANDEM_GOLDEN"), Tandem.env.get("SURELY_NOT_SET_ANYWHERE"));
Tandem.env.set("TANDEM_SET_BY_SCRIPT", "yes");
console.log(Tandem.env.has("TANDEM_SET_BY_SCRIPT"), Tandem.env.toObject().TANDEM_SET_BY_SCRIPT);
console.log(Tandem.mainModule?.endsWith("/args_env.ts"));
try {
  Tandem.env.get("");
} catch (e) {
  console.log((e as Error).message);
}
