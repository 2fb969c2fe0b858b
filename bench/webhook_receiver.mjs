// The webhooks benchmark's receiver (bench/webhooks_bench.py): Node's own HTTP server,
// so that receiving costs the 2-core machine a small share of what sending does.
//   node bench/webhook_receiver.mjs <port> <keep-one-in-N-for-verification>
// POST /hook/<n>  a delivery: 204 (or 500 while endpoint n is told to fail), keeps
//                 [n, webhook-id, receipt time in s]; one in N also keeps its headers
//                 and body, which bench/webhooks_bench.py verifies with standardwebhooks.
// POST /control   {"fail_until": {"<n>": unix time}, "reset": true}
// GET  /count     {"received": count}
// POST /dump      {"path": file}: writes what was kept there as JSON.
import http from "node:http";
import { writeFileSync } from "node:fs";

const port = Number(process.argv[2]);
const keepEvery = Number(process.argv[3] || 0);
const state = { failUntil: {}, received: [], refused: 0, samples: [], seen: 0 };
const now = () => (performance.timeOrigin + performance.now()) / 1000;

function answer(res, status, body = "") {
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
  res.end(body);
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on("data", (chunk) => chunks.push(chunk));
  req.on("end", () => {
    const at = now();
    const body = Buffer.concat(chunks);
    const path = req.url;
    if (path.startsWith("/hook/")) {
      const index = Number(path.slice(6));
      if (at < (state.failUntil[index] || 0)) {
        state.refused += 1;
        answer(res, 500, '{"error":"failing on purpose"}');
        return;
      }
      state.seen += 1;
      const id = req.headers["webhook-id"] || "";
      if (keepEvery && state.seen % keepEvery === 0) {
        state.samples.push([index, id, req.headers["webhook-timestamp"] || "",
                            req.headers["webhook-signature"] || "", body.toString("utf8")]);
      }
      state.received.push([index, id, at]);
      res.writeHead(204);
      res.end();
      return;
    }
    if (path === "/control") {
      const command = JSON.parse(body.toString() || "{}");
      if (command.fail_until) state.failUntil = command.fail_until;
      if (command.reset) Object.assign(state, { received: [], refused: 0, samples: [], seen: 0 });
      answer(res, 200, "{}");
      return;
    }
    if (path === "/count") {
      answer(res, 200, JSON.stringify({ received: state.received.length }));
      return;
    }
    if (path === "/dump") {
      const target = JSON.parse(body.toString()).path;
      writeFileSync(target, JSON.stringify({ received: state.received, refused: state.refused,
                                             samples: state.samples }));
      answer(res, 200, "{}");
      return;
    }
    answer(res, 404);
  });
});
server.keepAliveTimeout = 60_000;
server.headersTimeout = 65_000;
server.listen({ port, host: "127.0.0.1", backlog: 4096 });
