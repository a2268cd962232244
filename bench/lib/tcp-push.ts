// Pushes MB megabytes to HOST:PORT, half-closes, waits for the peer to close,
// and prints the elapsed milliseconds. Run inside any netns (nsenter ... node).
//   node tcp-push.js HOST PORT MB
import net from 'node:net';

const [host, port, mb] = [process.argv[2]!, Number(process.argv[3]), Number(process.argv[4] ?? 400)];
const chunk = Buffer.alloc(1 << 20, 0x61);

async function once(): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const s = net.connect({ host, port, allowHalfOpen: true });
    let n = 0;
    const pump = () => {
      while (n < mb) {
        n++;
        if (!s.write(chunk)) return void s.once('drain', pump);
      }
      s.end();
    };
    s.once('connect', pump);
    s.on('data', () => undefined);
    s.once('error', reject);
    s.once('close', () => resolve(Number(process.hrtime.bigint() - t0) / 1e6));
  });
}

// the server may still be starting: retry a refused connection for a few seconds
for (let i = 0; ; i++) {
  try {
    console.log((await once()).toFixed(1));
    break;
  } catch (e) {
    if (i > 50) throw e;
    await new Promise((r) => setTimeout(r, 100));
  }
}
