/** What the helpers that start real servers share: a free loopback port, and stopping a child for good. */
import type { ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';

/** Ports this process has handed out: the kernel may offer a released one again at once. */
const handedOut = new Set<number>();

/**
 * A loopback port nothing listens on right now (bound once, then released), and never one this
 * process handed out before: servers started together would otherwise be given the same port,
 * and all but one would fail to bind it.
 */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = createServer();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const { port } = server.address() as { port: number };
        server.close(() => resolve(port));
      });
    });
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    return port;
  }
}

/** Sends `signal` (SIGTERM by default) and waits for the exit, with SIGKILL after 5 s. */
export async function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}
