// Accepts on 0.0.0.0:PORT and reads every connection to its end, then closes
// it: the receiving side of tcp-push.js, run inside a container's netns (so the
// figure is the network path's, not a busybox nc's 8 KiB reads).
//   node tcp-sink.js PORT
import net from 'node:net';

net.createServer((s) => s.resume().on('error', () => s.destroy())).listen(Number(process.argv[2]), '0.0.0.0');
