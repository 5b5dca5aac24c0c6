// A small upstream service for the fault suites, run as a process of its own so that a test can
// kill it (SIGKILL), freeze it (SIGSTOP: it accepts connections and never answers) and start it
// again on the same port. PORT (default 0: a free port) and NAME come from the environment; it
// prints `listening <port>` on standard output once it listens, and `request <method> <path>` for
// each request as it arrives. Every request is answered 200 with its name, method and path as
// JSON; `?delay=MS` holds the answer that long.
import { createServer } from 'node:http';

const name = process.env.NAME ?? 'upstream';
const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://upstream');
  const delay = Number(url.searchParams.get('delay') ?? 0);
  process.stdout.write(`request ${req.method} ${url.pathname}\n`);
  const answer = () => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ name, method: req.method, path: url.pathname }));
  };
  req.resume();
  req.on('end', () => {
    if (delay > 0) setTimeout(answer, delay);
    else answer();
  });
});
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  process.stdout.write(`listening ${server.address().port}\n`);
});
