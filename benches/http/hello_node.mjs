// Hello world on Node's http module.
import http from "node:http";
http
  .createServer((_request, response) => {
    response.writeHead(200, { "content-type": "text/plain;charset=UTF-8" });
    response.end("Hello, World!");
  })
  .listen(Number(process.env.PORT), "127.0.0.1");
