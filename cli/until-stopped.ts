import type { Logger } from 'pino';

/**
 * Runs a long-lived command until SIGTERM or SIGINT, then `stop()`s it once and resolves (a failed
 * stop is logged). `npx`/`npm exec` does not pass SIGTERM on: it dies and leaves the command behind,
 * re-parented. Under npm, a parent that is gone is taken as the stop signal it did not forward.
 */
export function untilStopped(log: Logger, stop: () => Promise<void>): Promise<void> {
  return new Promise<void>((resolve) => {
    let stopping = false;
    const onSignal = (sig: string) => {
      if (stopping) return;
      stopping = true;
      log.info({ signal: sig }, 'shutting down');
      stop().then(resolve, (e: unknown) => {
        log.error({ err: e }, 'shutdown failed');
        resolve();
      });
    };
    process.once('SIGTERM', () => onSignal('SIGTERM'));
    process.once('SIGINT', () => onSignal('SIGINT'));
    if (process.env.npm_command === 'exec') {
      const parent = process.ppid;
      const watch = setInterval(() => {
        if (process.ppid === parent) return;
        clearInterval(watch);
        onSignal('parent exited');
      }, 500);
      watch.unref();
    }
  });
}
