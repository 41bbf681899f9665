// fetch() of file: URLs reads local files (permissions are open by default).
const data = await fetch(new URL("./data.json", import.meta.url));
console.log(data.status, await data.json());
try {
  await fetch(new URL("./no_such_file.json", import.meta.url));
} catch (e) {
  console.log((e as Error).name, (e as Error).message);
}
try {
  await fetch(new URL("./data.json", import.meta.url), { method: "POST", body: "x" });
} catch (e) {
  console.log((e as Error).name, (e as Error).message);
}
