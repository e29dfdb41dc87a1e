/**
 * Coalesces log and EMF lines into one stdout write per event-loop turn.
 *
 * stdout is a pipe in a container, and Node writes to pipes synchronously: one `write` per request
 * is one syscall on the request path, and it blocks whenever the reader (the container runtime's
 * log driver) falls behind. Lines are queued and written together on the next `setImmediate`; the
 * queue is written synchronously on process exit, so nothing is lost on a normal or error exit.
 */
export interface LineWriter {
  (line: string): void;
  /** Writes whatever is queued, now. */
  flush(): void;
}

export function createLineWriter(sink: (chunk: string) => void = (c) => process.stdout.write(c)): LineWriter {
  let queue: string[] = [];
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    if (queue.length === 0) return;
    const chunk = queue.length === 1 ? (queue[0] as string) : queue.join('');
    queue = [];
    sink(chunk);
  };
  const write = ((line: string) => {
    queue.push(line);
    if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
  }) as LineWriter;
  write.flush = flush;
  process.once('exit', flush);
  return write;
}
