/**
 * The worker-thread entry of a master's TCPStore server (as torch runs its daemon on a thread of its
 * own): the server keeps answering while the master's main thread is busy or blocked in a wait.
 * Posts `{ port }` (or `{ error }`) once listening; the message "close" closes it.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { TCPStoreServer, type ListenOptions } from './server.js';

const port = parentPort!;
try {
  const server = await TCPStoreServer.listen(workerData as ListenOptions);
  port.on('message', (message) => {
    if (message === 'close') void server.close().then(() => port.close());
  });
  port.postMessage({ port: server.port });
} catch (error) {
  port.postMessage({ error: (error as Error).message });
  port.close();
}
